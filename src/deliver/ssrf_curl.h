/*
 * ssrf_curl.h — the SSRF guard's libcurl side (ssrf.c), for every transfer
 * to an address that came from outside: subscriber deliveries and the
 * WhatsApp media fetcher (src/media).
 */
#ifndef HG_SSRF_CURL_H
#define HG_SSRF_CURL_H

#include <curl/curl.h>

#include "deliver/deliver.h"

/* Sets h up for a subscriber delivery: every socket curl opens goes
 * through the guard (CURLOPT_OPENSOCKETFUNCTION), every request is checked
 * again against the connection's peer address just before it is sent
 * (CURLOPT_PREREQFUNCTION: a connection reused from the shared pool was
 * opened for someone else), no redirects, no proxy (the proxy's address is
 * not the subscriber's), and only the schemes the policy allows. g must
 * outlive the transfer. HG_OK or HG_EINVAL (an option curl refused). */
int hg_ssrf_curl_guard(CURL *h, struct hg_ssrf_guard *g);

#endif
