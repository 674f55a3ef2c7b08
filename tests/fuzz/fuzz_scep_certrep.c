/*
 * tests/fuzz/fuzz_scep_certrep.c - libFuzzer target for the SCEP parsers
 * that read what a CA (or anyone on the path) sends: CertRep, GetCACert
 * (both content types) and GetNextCACert. The first input byte picks the
 * parser; the rest is the body.
 *
 * The keys below are fixed, throwaway test keys (made with the openssl CLI)
 * so that seed CertReps in tests/fuzz/corpus/scep_certrep/ verify and the
 * fuzzer reaches past the signature check. Nothing here is secret.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"

static const char ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIDNTCCAh2gAwIBAgIUaoX84APXqlCd2QRozKD8y8cKPuEwDQYJKoZIhvcNAQEL\n"
	"BQAwITENMAsGA1UECgwEZnV6ejEQMA4GA1UEAwwHZnV6eiBDQTAgFw0yNjExMjMw\n"
	"NjIyMDBaGA8yMTI2MTAzMDA2MjIwMFowITENMAsGA1UECgwEZnV6ejEQMA4GA1UE\n"
	"AwwHZnV6eiBDQTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAPQeCDqL\n"
	"BGA9qpOW56HfCNBr731nk9br28R1qQvAoU1lLmLiMVDMCKEOrTLrTijA9slcn4Hq\n"
	"SHZQ6X0UuzECnSRko59mBhs5tAbkEaSz6fJgx7tHXbrM7PVTqbNRnwC6J2kvZmZC\n"
	"yALx3O/hkYX1QEVLR5T21VxYDvpiUsmPQdRUvnjECjpffdbwj/NQ6+6nYKEd8kyl\n"
	"Ing4Smxq7c1nX1OLnrBarjD4/Vlnw1pwO6hl6Ik7ngshI64xn1kmTWdD7czW+iN2\n"
	"gaj//lBgp6E4DhIC91zoScLPqgYZ8BPh8DR2v71td3kj/0kTxsPqCI7khiNxB3QX\n"
	"t2j1AfMPK9fZ+L0CAwEAAaNjMGEwHQYDVR0OBBYEFCm6ZcUtml6Dl0qwOAKUAqTJ\n"
	"9SmKMB8GA1UdIwQYMBaAFCm6ZcUtml6Dl0qwOAKUAqTJ9SmKMA4GA1UdDwEB/wQE\n"
	"AwIBBjAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQCAgjukyeXQ\n"
	"t2qgJKEfKWlqmjYUvfaVS1mWw3bDII7Cg9d9YQ1NBs1U//dN1eNvJ+GivXC0Ey23\n"
	"nkvGY259egwDu6RJ1QH9XFU+pK3xXmZxZlfyXkvw6LWdpGXsEhLQSGOax7Z49sIP\n"
	"2CC9k0ijERgQy8WQ2hSWnefzLVP/2/W1x2I2OznCa7Ibrvnzpp3xupPTqWsSt6Ta\n"
	"sVevfzZUOdR6x6pkb/qeJpmSxy20mSrFPqykq3nC9kqd+C/46jPYsA9NATr0Y3Bh\n"
	"kZV7FsPZC9D6QDZ/CPtnTlaAxHglB2aKvxzmVHYxD5Ooqfw1bi7IccLEPaQ2/0eV\n"
	"Bo5kp99dzsyl\n"
	"-----END CERTIFICATE-----\n";

static const char ca_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQD0Hgg6iwRgPaqT\n"
	"lueh3wjQa+99Z5PW69vEdakLwKFNZS5i4jFQzAihDq0y604owPbJXJ+B6kh2UOl9\n"
	"FLsxAp0kZKOfZgYbObQG5BGks+nyYMe7R126zOz1U6mzUZ8AuidpL2ZmQsgC8dzv\n"
	"4ZGF9UBFS0eU9tVcWA76YlLJj0HUVL54xAo6X33W8I/zUOvup2ChHfJMpSJ4OEps\n"
	"au3NZ19Ti56wWq4w+P1ZZ8NacDuoZeiJO54LISOuMZ9ZJk1nQ+3M1vojdoGo//5Q\n"
	"YKehOA4SAvdc6EnCz6oGGfAT4fA0dr+9bXd5I/9JE8bD6giO5IYjcQd0F7do9QHz\n"
	"DyvX2fi9AgMBAAECggEAdg7iHuHlW1/nUxo7amLRQe65MzY43stRDNl0SA1AVQw2\n"
	"WzcV74PFNpLA+2ul8HqlvysuructZR7rVIUGpISll5ieMvPlxxvobx60U6l43jGk\n"
	"1nMEptb9UAXGf8Tc9z6P2cRFKvZoAViT52T4+kZp7zkhZK7c75xcngWYEQdZqEPj\n"
	"zxr7y8+/xd2zJnPUkc7SVRLIERpcT2srGMEf289SWE0kDq5xVSF9mOzLBTbMQsAN\n"
	"EnFiNeLMS4ARiT6BZZrWS78n9y3SEUSn3Dam/esR6UWDc0ihZKQjWdFTJfWdOL2Y\n"
	"KzMWzY+As+heMkwHdb8msSwDB+MUIcq8lDDbs5YaJwKBgQD6xpo3fydRshgoNzHl\n"
	"YicDqQHlQBKooON03wlUia01UAMWMvvZo+f8w7kK6jZStvOcbeRMyF2uZWkXgQXN\n"
	"rWG1dDnuOEmyxWVCCij6fzf0OaamjF163COl8lrEMxnyLBLgK4iBaIGjdiF/0twr\n"
	"ExuZ0tFWwL2ZFf0WQD1HZJ7qLwKBgQD5M+t3+oLkouanMgsK6dRLmq9LqvgM5Alv\n"
	"KdQ9gUwtRZy/TWy5CSgQi7ZSS5DP0JtA883RzDpQvr4YP5QIZNuqlH5W9uSCCN7U\n"
	"GEEsXvhP3LPhw5kWTO+dA3hPqVFPUFza5BCV7QtDF7XW27ZtqWpkpB6JHIgCJvUT\n"
	"Fk5huPdM0wKBgQDdnjfZhaB83TPmDmkk+ynZXTmUnJwgtBZvSVAYipcsvyoLK0FQ\n"
	"5D33LgzQrY0WaiI+Awu4I3ZO0cYfBGHZkzj/P9iWQt42g6Xpx8rRHS6YwX4aP3+5\n"
	"POSwGc7HBxYN449G1pILMw0mJRaTvQffdUJ2HU3tKeYkbL8+M8Uz26No9wKBgQCS\n"
	"k+togr0C5p5ssY61OJxaa/23sDR+wJKcBCqGksrPxiZQj6XnoG8kbEktVq0yzyzC\n"
	"o6ToRgv2+nqtoJfd6BUc3IMDe+0kXztR3YJYKvQ7ZUGZBYfCCjbWT/gwQxNEZ6x2\n"
	"Q7dNuEPrjsKyQkGndwLRd4dOdq25NljohTJNYJJ1aQKBgQCZ3qaBwDDd+Q98VXOe\n"
	"9Dd7OMdk62xjq2ThnxP+JxFR5OxcSvUlbCcT6kPAhE4mUJSuSEgSLAbgTA9BSLR+\n"
	"7/jM8jp87Xh9XNB6YR0zz1UhPQ/5Jd3KZNSip86lPJRvEvCsMXcg9fcKo3IH9mGE\n"
	"36innZCspbOeTIEiUsFSDBRhFQ==\n"
	"-----END PRIVATE KEY-----\n";

static const char px_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIDDzCCAfegAwIBAgIUXTgjxEFIx8Qg4KmO4Yy5akfNsfAwDQYJKoZIhvcNAQEL\n"
	"BQAwFjEUMBIGA1UEAwwLUHJveHktRlVaWjEwIBcNMjYxMTIzMDYyMjAwWhgPMjEy\n"
	"NjEwMzAwNjIyMDBaMBYxFDASBgNVBAMMC1Byb3h5LUZVWloxMIIBIjANBgkqhkiG\n"
	"9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7n5UM+wAJXmwO7eZ8HyrCVyiA/qRyx7KpbOC\n"
	"Qo9jTR40Qoe4SRuIZClrDBv7zc6X1F4huiGuPpHAOhBvGhKHBmjsXv9B7LVsBJXu\n"
	"pPSRKhWSOta+SPib0+UNSeoWZSZ1MvjMQGja7cbveQSIcLmsVXgJIxnPDcRdfgwB\n"
	"NGV9mTCFsIp1Qq2/fzzrosrXmAFVDPNfbaSD/UihogKKsguqbJPoDDMsmt+h4XTZ\n"
	"yZ8+qe7gFlb71diI3LGvVri8o3jEwGsda/poXX7MoERug+DRpH0+NiG8K00SoIBj\n"
	"KvLAHS0IFl5B5DKjhlI4nOIj1TGhdlaQWyOvhPJy7SvpaygMHQIDAQABo1MwUTAd\n"
	"BgNVHQ4EFgQUr5rHk+I6ehS5E/t8LwXzEqaHeYUwHwYDVR0jBBgwFoAUr5rHk+I6\n"
	"ehS5E/t8LwXzEqaHeYUwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOC\n"
	"AQEAbowLfzDu6pwcd8gQNEIttlZ1nQuRJ8tgKVyczynrKnoZsG0nCpNW25ctAGPg\n"
	"MnuZQXFuyHYGLh9bv0Ev/yPDIzGdQwZUdF2RHMZsjlFGdiakW/95QHd/dfTbvaHN\n"
	"tcIdNY4OL9IsSEnOm6SJHONej30flIG6MJW6nu/xMJnRfo2inmvmP+R0RcInKtoH\n"
	"bO2ZGOI5jEKxyRwI8KDGTaj1HNnWxgdTjeZnEHS+BRlsGjABGd+NcFS9XdKGbJMm\n"
	"6f4FMMqSAdtW7VMeCV18SB2CmIMxxdvzfXjFLOdtbSo1hzpu+JZdPLwIUKhoChUs\n"
	"f5f1m+r1ipMt6/KHqSCtuC2+Qw==\n"
	"-----END CERTIFICATE-----\n";

static const char px_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDuflQz7AAlebA7\n"
	"t5nwfKsJXKID+pHLHsqls4JCj2NNHjRCh7hJG4hkKWsMG/vNzpfUXiG6Ia4+kcA6\n"
	"EG8aEocGaOxe/0HstWwEle6k9JEqFZI61r5I+JvT5Q1J6hZlJnUy+MxAaNrtxu95\n"
	"BIhwuaxVeAkjGc8NxF1+DAE0ZX2ZMIWwinVCrb9/POuiyteYAVUM819tpIP9SKGi\n"
	"AoqyC6psk+gMMyya36HhdNnJnz6p7uAWVvvV2Ijcsa9WuLyjeMTAax1r+mhdfsyg\n"
	"RG6D4NGkfT42IbwrTRKggGMq8sAdLQgWXkHkMqOGUjic4iPVMaF2VpBbI6+E8nLt\n"
	"K+lrKAwdAgMBAAECggEAQh5Bx9dAvyL6acPf6J0XadQFkqbP7okN01xt23gXJpUe\n"
	"Fee8foAkkugspkHH0GnbC+RA43Jc9TnBGhfeRVMnne5OwZNwumgdlzPd4ltvN0Sd\n"
	"srRAMsjBosAYrAo6xTYhPc1eCulG8K67S0inbuD61wMdPV71WTK8XKqFVvpgFKyn\n"
	"AOG4HieDGaqQ8u1SXLOhcfeWHoTP51Q2DcmGC1Gyow6JX/d/62hkZbKDiVUvEUxp\n"
	"Y26Sp5wFQTEzooiy8UinVAj0SKi/T3uiWZS43Bw68CGpaakhyE/jU9M75YytLgoF\n"
	"HJxJwJdEiKAwk0RrDgyrCxvmg21Xran0f/ulvZIa/QKBgQD+9zoh4j2kXn74QF/i\n"
	"OzEibnwKq8SzjLGyhOcOuw2N58HZCNglNW+wzrEKOjJ0H1fYhQqCintmAOQ1kz5o\n"
	"qOh2bKd+wl3IdtFGDb4uR4qjp5QKu/O87LFvQfpP48c9M4CwrgRitbKx+1rBqwGp\n"
	"8LDaujteM5UM7sMDjbTcRRA9pwKBgQDvdf74bY+UTH71xdUi2DLsf8ODnnQBlWB0\n"
	"+3A5NXwwUZKwrIVmH8lNhB6hlkM0xc2eTctd1J5Rb9ptPcmwns044v+Ym/yFaKTn\n"
	"rVnDRkEy9OKkP6DaGOTTi/hOaqBSG/ixUhjwthKlapshZf351jEKQcOeQxAQUagy\n"
	"k2JmQB6ImwKBgD+IxdCpuuiZr5QXHo2WaHEHDRvvn62KUsGEgrtV+1OwO8rkfFAR\n"
	"V8q8Rrugsu/i25YV2P+cmJFbiYKcNYIJDRxtiPN6ZbpNeWq2g/yuUSrk2GwwV9Vt\n"
	"Oe3aiBCeVwi2K8xbILakRmo5k20NOvXpB3kJzT91JSA64xegmUAGabyjAoGACR3F\n"
	"4jFRmQS8hKDOd3AhqC1JBTbAFdtY+7siz5rAqppAamd3AKdPI5tXCzHMRzMMm+08\n"
	"Q8s3Z8RJXYVPq2CwUW0a6/VsTKvqM0O/OhbvnoACLNybRBJUi9U1U87tYZLdCesl\n"
	"NezIkvGXDFN0stE7trdAOkM1Vlm1fI9t3JSuVOcCgYAliWf8bZVikxpKNf2Qrsjk\n"
	"748E3I2Bmb1jSJOLmxJ9hADVFiQOr/27iGAmHSgyiXD9gagWbas0sK9z4Bz3MBzi\n"
	"vnffgHzIjVbO+w+jxjmAr9uE1SjLpMz2pGdjZDonwsm4fZqgHqWDDiA3dxadXWqr\n"
	"I5QsVgVzn0+sbhjjlnESwQ==\n"
	"-----END PRIVATE KEY-----\n";

#define FUZZ_TXID "FUZZTXID"

static const uint8_t fuzz_nonce[PKI_NONCE_LEN] = "fuzz-nonce-16byt";

struct fuzz_env {
	struct pki_buf ca, px;
	struct pki_key *ca_key, *px_key;
};

static struct fuzz_env *fuzz_env(void)
{
	static struct fuzz_env env;
	static int ready;

	if (ready)
		return &env;
	if (pki_init(NULL) < 0 ||
	    pki_pem_to_der(ca_pem, strlen(ca_pem), "CERTIFICATE", &env.ca, NULL) < 0 ||
	    pki_pem_to_der(px_pem, strlen(px_pem), "CERTIFICATE", &env.px, NULL) < 0 ||
	    pki_key_from_pem(ca_key_pem, strlen(ca_key_pem), &env.ca_key, NULL) < 0 ||
	    pki_key_from_pem(px_key_pem, strlen(px_key_pem), &env.px_key, NULL) < 0)
		abort();	/* the harness itself is broken, not the input */
	ready = 1;
	return &env;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env *env = fuzz_env();
	struct pki_error err;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: {
		struct pki_certrep_expect exp = {
			.signer = env->ca.data, .signer_len = env->ca.len,
			.txid = FUZZ_TXID, .nonce = fuzz_nonce, .key = env->px_key,
			.cert = env->px.data, .cert_len = env->px.len,
		};
		struct pki_certrep rep;

		if (pki_scep_certrep_parse(data + 1, size - 1, &exp, &rep, &err) == 0)
			pki_certrep_free(&rep);
		break;
	}
	case 1:
	case 2: {
		struct pki_cacerts cc;
		const char *ct = data[0] % 4 == 1 ? "application/x-x509-ca-cert"
						  : "application/x-x509-ca-ra-cert";

		if (pki_scep_cacert_parse(ct, data + 1, size - 1, &cc, &err) == 0)
			pki_cacerts_free(&cc);
		break;
	}
	case 3: {
		struct pki_cacerts cc;

		if (pki_scep_nextca_parse(data + 1, size - 1, env->ca.data, env->ca.len, &cc,
					  &err) == 0)
			pki_cacerts_free(&cc);
		break;
	}
	}
	return 0;
}
