/*
 * pki/http.c - HTTP to the CA: libcurl's multi interface driven by the
 * caller's libevent loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION), so no
 * request ever blocks the loop and no thread is started by us.
 *
 * Re-entrancy rules: completion callbacks run from our event handlers after
 * curl_multi_socket_action() has returned, never from inside a libcurl
 * callback, so they may start or cancel requests freely.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "pki/pki_int.h"

struct sock_ctx {
	struct pki_http *h;
	struct event *ev;
	curl_socket_t fd;
	LIST_ENTRY(sock_ctx) link;
};

struct pki_http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	int running;
	LIST_HEAD(, sock_ctx) socks;
};

struct pki_http_req {
	struct pki_http *h;
	struct pki_http_limit *lim;
	TAILQ_ENTRY(pki_http_req) q;
	bool queued;
	bool active;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char where[96];		/* URL without the message, for reasons */
	struct pki_buf post;
	bool is_post;
	struct pki_http_opts opts;
	uint8_t *body;
	size_t len, cap;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
	pki_http_build_fn *build;	/* lazy: URL and body made at start */
	struct pki_error build_err;
	struct event *fail_ev;		/* a queued request that could not start */
	pki_http_done_fn *done;
	void *arg;
};

static void check_multi_info(struct pki_http *h);

static void event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pki_http *h = arg;
	int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
		    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(h->multi, fd, flags, &h->running);
	check_multi_info(h);
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pki_http *h = arg;

	(void)fd;
	(void)what;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &h->running);
	check_multi_info(h);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct pki_http *h = userp;
	struct sock_ctx *sc = sockp;
	short kind;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sc) {
			event_free(sc->ev);
			LIST_REMOVE(sc, link);
			free(sc);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
		       ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
	if (!sc) {
		sc = calloc(1, sizeof(*sc));
		if (!sc)
			return -1;
		sc->h = h;
		sc->fd = s;
		LIST_INSERT_HEAD(&h->socks, sc, link);
		curl_multi_assign(h->multi, s, sc);
	} else {
		event_free(sc->ev);
	}
	sc->ev = event_new(h->base, s, kind, event_cb, h);
	if (!sc->ev || event_add(sc->ev, NULL) < 0)
		return -1;
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct pki_http *h = userp;
	struct timeval tv;

	(void)m;
	/* Never call socket_action from here: schedule it on the loop. */
	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(h->timer, &tv) < 0 ? -1 : 0;
}

struct pki_http *pki_http_new(struct event_base *base)
{
	struct pki_http *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->base = base;
	LIST_INIT(&h->socks);
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, timer_event_cb, h);
	if (!h->multi || !h->timer) {
		pki_http_free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

void pki_http_free(struct pki_http *h)
{
	struct sock_ctx *sc;

	if (!h)
		return;
	/* Cleanup may still report CURL_POLL_REMOVE for cached connections. */
	if (h->multi)
		curl_multi_cleanup(h->multi);
	while ((sc = LIST_FIRST(&h->socks))) {
		LIST_REMOVE(sc, link);
		event_free(sc->ev);
		free(sc);
	}
	if (h->timer)
		event_free(h->timer);
	free(h);
}

static void pump(struct pki_http_limit *lim);

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

int pki_http_limit_init(struct pki_http_limit *lim, struct pki_http *h, unsigned max)
{
	lim->max = max ? max : 1;
	lim->active = 0;
	lim->queued = 0;
	TAILQ_INIT(&lim->queue);
	lim->pump_ev = evtimer_new(h->base, pump_cb, lim);
	return lim->pump_ev ? 0 : -1;
}

void pki_http_limit_cleanup(struct pki_http_limit *lim)
{
	if (lim->pump_ev)
		event_free(lim->pump_ev);
	lim->pump_ev = NULL;
}

static void pump_later(struct pki_http_limit *lim)
{
	struct timeval now = { 0, 0 };

	if (lim->pump_ev && !evtimer_pending(lim->pump_ev, NULL))
		evtimer_add(lim->pump_ev, &now);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct pki_http_req *r = userdata;
	size_t n = size * nmemb;

	if (n > r->opts.max_body - r->len) {
		/* A CA that sends more than any SCEP answer needs is broken. */
		r->too_big = true;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		uint8_t *p;

		while (cap < r->len + n + 1)
			cap *= 2;
		p = realloc(r->body, cap);
		if (!p)
			return 0;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	return n;
}

static void req_free(struct pki_http_req *r)
{
	if (r->fail_ev)
		event_free(r->fail_ev);
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->url);
	pki_buf_free(&r->post);
	free(r->body);
	free(r);
}

static void set_where(struct pki_http_req *r)
{
	const char *msg = strstr(r->url, "&message=");

	/* Reasons name the CA URL, never the (possibly huge) GET message. */
	snprintf(r->where, sizeof(r->where), "%.*s",
		 msg ? (int)(msg - r->url) : (int)strlen(r->url), r->url);
}

static bool req_start(struct pki_http_req *r)
{
	CURL *e;

	if (r->build) {
		pki_http_build_fn *build = r->build;

		r->build = NULL;
		if (build(r->arg, &r->url, &r->post, &r->build_err) < 0)
			return false;
		r->is_post = r->post.data != NULL;
		set_where(r);
	}
	e = curl_easy_init();
	if (!e) {
		pki_err_set(&r->build_err, PKI_ERR_NOMEM, "cannot start HTTP request");
		return false;
	}
	r->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->opts.timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->opts.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* Deterministic routing: proxy environment variables are ignored. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "lscd-pki/1");
	if (r->is_post) {
		r->headers = curl_slist_append(NULL, "Content-Type: application/x-pki-message");
		r->headers = r->headers ? curl_slist_append(r->headers, "Expect:") : NULL;
		if (!r->headers) {
			pki_err_set(&r->build_err, PKI_ERR_NOMEM, "out of memory");
			return false;
		}
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)r->post.data);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->post.len);
	}
	if (curl_multi_add_handle(r->h->multi, e) != CURLM_OK) {
		pki_err_set(&r->build_err, PKI_ERR_NOMEM, "cannot start HTTP request");
		return false;
	}
	r->active = true;
	r->lim->active++;
	return true;
}

static bool fail_now(struct pki_http_req *r);

/*
 * Start queued requests while the limit allows. Building a pkiMessage costs
 * an RSA signature; a few per loop turn keep timers and sockets served while
 * a burst of hundreds drains.
 */
#define PUMP_BUILDS_PER_TURN 4

static void pump(struct pki_http_limit *lim)
{
	struct pki_http_req *r;
	unsigned builds = 0;

	while (lim->active < lim->max && (r = TAILQ_FIRST(&lim->queue))) {
		if (r->build && builds++ == PUMP_BUILDS_PER_TURN) {
			pump_later(lim);
			break;
		}
		TAILQ_REMOVE(&lim->queue, r, q);
		r->queued = false;
		lim->queued--;
		if (!req_start(r) && !fail_now(r)) {
			/* Out of memory even for a timer: retry on the next pump. */
			TAILQ_INSERT_HEAD(&lim->queue, r, q);
			r->queued = true;
			lim->queued++;
			break;
		}
	}
}

/* A queued request that cannot start: report it from the loop, not inline. */
static void deferred_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pki_http_req *r = arg;
	struct pki_http_result res;

	(void)fd;
	(void)what;
	memset(&res, 0, sizeof(res));
	res.status = r->build_err.status != PKI_OK ? r->build_err.status : PKI_ERR_NOMEM;
	snprintf(res.reason, sizeof(res.reason), "%s", r->build_err.reason);
	r->done(&res, r->arg);
	pki_buf_free(&res.body);
	req_free(r);
}

/* Report from the loop, never inline: the caller may be in a callback. */
static bool fail_now(struct pki_http_req *r)
{
	struct timeval now = { 0, 0 };

	if (r->easy) {
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	r->fail_ev = evtimer_new(r->h->base, deferred_fail_cb, r);
	if (!r->fail_ev)
		return false;
	evtimer_add(r->fail_ev, &now);
	return true;
}

static const char *status_text(CURLcode rc, enum pki_status *st)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		*st = PKI_ERR_CA_TIMEOUT;
		return "timed out";
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SEND_ERROR:
		*st = PKI_ERR_CA_UNREACHABLE;
		return "unreachable";
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
		/* The CA went away mid-request (stopped, crashed, reset the
		 * connection): it is unreachable, not talking nonsense. */
		*st = PKI_ERR_CA_UNREACHABLE;
		return "closed the connection without answering";
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
		*st = PKI_ERR_CA_GARBAGE;
		return "broken HTTP response";
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		*st = PKI_ERR_CONFIG;
		return "bad URL";
	default:
		*st = PKI_ERR_CA_UNREACHABLE;
		return "transfer failed";
	}
}

static void finish(struct pki_http_req *r, CURLcode rc)
{
	struct pki_http_limit *lim = r->lim;
	struct pki_http_result res;
	char *ct = NULL;

	memset(&res, 0, sizeof(res));
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.code);
	if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(res.content_type, sizeof(res.content_type), "%s", ct);
	if (rc == CURLE_OK) {
		if (res.code >= 200 && res.code < 300) {
			res.status = PKI_OK;
		} else {
			res.status = PKI_ERR_CA_HTTP;
			snprintf(res.reason, sizeof(res.reason), "%.20s %s: HTTP %ld",
				 r->opts.what, r->where, res.code);
		}
	} else if (r->too_big) {
		res.status = PKI_ERR_CA_GARBAGE;
		snprintf(res.reason, sizeof(res.reason),
			 "%.20s %s: response larger than %zu bytes", r->opts.what,
			 r->where, r->opts.max_body);
	} else {
		const char *what = status_text(rc, &res.status);

		if (res.status == PKI_ERR_CA_TIMEOUT)
			snprintf(res.reason, sizeof(res.reason),
				 "%.20s %s: no answer within %u ms", r->opts.what,
				 r->where, r->opts.timeout_ms);
		else
			snprintf(res.reason, sizeof(res.reason), "%.20s %s: %.24s (%.110s)",
				 r->opts.what, r->where, what,
				 r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
	}
	if (pki_buf_set(&res.body, r->body ? r->body : (uint8_t *)"", r->len) < 0 &&
	    res.status == PKI_OK) {
		res.status = PKI_ERR_NOMEM;
		snprintf(res.reason, sizeof(res.reason), "out of memory");
	}
	curl_multi_remove_handle(r->h->multi, r->easy);
	r->active = false;
	lim->active--;
	/* Hand the freed slot on before the callback can queue more work. */
	pump(lim);
	r->done(&res, r->arg);
	pki_buf_free(&res.body);
	req_free(r);
}

static void check_multi_info(struct pki_http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		struct pki_http_req *r = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			finish(r, msg->data.result);
	}
}

static struct pki_http_req *submit(struct pki_http_req *r, struct pki_error *err)
{
	struct pki_http_limit *lim = r->lim;

	/* Lazily built requests always start from the loop, a few at a time. */
	if (!r->build && lim->active < lim->max && TAILQ_EMPTY(&lim->queue)) {
		if (!req_start(r)) {
			if (err)
				*err = r->build_err;
			req_free(r);
			return NULL;
		}
	} else {
		TAILQ_INSERT_TAIL(&lim->queue, r, q);
		r->queued = true;
		lim->queued++;
		if (lim->active < lim->max)
			pump_later(lim);
	}
	return r;
}

static struct pki_http_req *req_new(struct pki_http *h, struct pki_http_limit *lim,
				    const struct pki_http_opts *opts,
				    pki_http_done_fn *done, void *arg)
{
	struct pki_http_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->h = h;
	r->lim = lim;
	r->opts = *opts;
	r->done = done;
	r->arg = arg;
	pki_err_clear(&r->build_err);
	return r;
}

struct pki_http_req *pki_http_request(struct pki_http *h, struct pki_http_limit *lim,
				      const char *url, const struct pki_buf *post,
				      const struct pki_http_opts *opts,
				      pki_http_done_fn *done, void *arg,
				      struct pki_error *err)
{
	struct pki_http_req *r = req_new(h, lim, opts, done, arg);

	if (!r || !(r->url = strdup(url)) ||
	    (post && pki_buf_set(&r->post, post->data, post->len) < 0)) {
		if (r)
			req_free(r);
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	r->is_post = post != NULL;
	set_where(r);
	return submit(r, err);
}

struct pki_http_req *pki_http_request_lazy(struct pki_http *h,
					   struct pki_http_limit *lim,
					   pki_http_build_fn *build,
					   const struct pki_http_opts *opts,
					   pki_http_done_fn *done, void *arg,
					   struct pki_error *err)
{
	struct pki_http_req *r = req_new(h, lim, opts, done, arg);

	if (!r) {
		pki_err_set(err, PKI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	r->build = build;
	snprintf(r->where, sizeof(r->where), "(not started)");
	return submit(r, err);
}

void pki_http_cancel(struct pki_http_req *r)
{
	struct pki_http_limit *lim;

	if (!r)
		return;
	lim = r->lim;
	if (r->queued) {
		TAILQ_REMOVE(&lim->queue, r, q);
		lim->queued--;
	}
	if (r->active) {
		curl_multi_remove_handle(r->h->multi, r->easy);
		lim->active--;
		r->active = false;
	}
	req_free(r);
	pump(lim);
}
