#!/bin/sh
# testpki.sh DIR — a throwaway PKI for tests and the demo, made with openssl:
#   DIR/mfg-ca.pem, mfg-ca.key   "apsim Manufacturing CA": signs the APs' MICs
#                                (apsim mints them) and the controller's own MIC
#   DIR/wlc.pem, wlc.key         the controller's manufacturer certificate
#                                (EKU id-kp-capwapAC + serverAuth), CN lscd-wlc
# Keys are RSA-2048, private key files mode 0600. Safe to run twice: an
# existing complete DIR is left as it is.
set -eu
dir=${1:?usage: testpki.sh DIR}
mkdir -p "$dir"
[ -s "$dir/wlc.pem" ] && [ -s "$dir/mfg-ca.pem" ] && exit 0
umask 077
cd "$dir"
cat > openssl.cnf <<'CNF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ wlc_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = 1.3.6.1.5.5.7.3.18, serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -config openssl.cnf \
	-subj "/O=apsim/CN=apsim Manufacturing CA" -extensions ca_ext \
	-keyout mfg-ca.key -out mfg-ca.pem 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -sha256 -config openssl.cnf \
	-subj "/O=lscd tests/CN=lscd-wlc" -keyout wlc.key -out wlc.csr 2>/dev/null
openssl x509 -req -in wlc.csr -CA mfg-ca.pem -CAkey mfg-ca.key -CAcreateserial \
	-days 3650 -sha256 -extfile openssl.cnf -extensions wlc_ext -out wlc.pem 2>/dev/null
rm -f wlc.csr mfg-ca.srl
chmod 600 mfg-ca.key wlc.key
chmod 644 mfg-ca.pem wlc.pem
