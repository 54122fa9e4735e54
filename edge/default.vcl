# The index's edge cache: Varnish 7.1 with the xkey vmod (Debian's varnish and
# varnish-modules). A template: edge/run fills in the @NAME@ fields and starts
# varnishd with it; docs/edge.md says what is cached and why.
#
# In short: anonymous reads the app marks public are kept (simple API, JSON API,
# files and their .metadata, project pages, feeds); sessions, uploads, forms and
# the admin go straight to the app. Keys for purges come from the app's
# Surrogate-Key header. While the app is down (its health probe failing, or an
# answer that is an error), what was fetched in the last @STALE_IF_ERROR@ seconds
# is served stale; while it is up, nothing stale is.
vcl 4.1;

import std;
import xkey;

backend app {
    .host = "@BACKEND_HOST@";
    .port = "@BACKEND_PORT@";
    .connect_timeout = 2s;
    # An upload is answered once the whole file has been read and checked.
    .first_byte_timeout = 300s;
    .between_bytes_timeout = 60s;
    # A probe every second: the edge knows within about four seconds that the
    # app is gone (and serves stale; a fetch that fails meanwhile falls back on
    # the stale copy too) and within two that it is back (and serves fresh).
    # Generous on slowness: under full load a healthy app's /_health/ (database,
    # cache and storage checks) was seen answering after more than 2 s, and a
    # 2 s timeout with two of three probes required marked it sick, turning
    # misses into 503s (benchmarks/edge.py, PostgreSQL + Redis, 2 of 4 runs).
    .probe = {
        .request = "GET /_health/ HTTP/1.1"
            "Host: @PROBE_HOST@"
            "User-Agent: pypi-site-edge-probe"
            "Connection: close";
        .interval = 1s;
        .timeout = 4s;
        .window = 5;
        .threshold = 2;
        .initial = 2;
    }
}

# Who may purge: loopback unless turned off, and EDGE_PURGE_ALLOW.
acl purgers {
@PURGE_ACL@
}

sub vcl_recv {
    # Set by this VCL only: what a client sends under these names is dropped.
    if (req.restarts == 0) {
        unset req.http.X-Edge-Cache;
        unset req.http.X-Edge-Stale;
        unset req.http.X-Edge-Purged;
    }

    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Purges are accepted only from the edge's purge ACL"));
        }
        if (req.http.xkey-purge) {
            set req.http.X-Edge-Purged = xkey.purge(req.http.xkey-purge);
        } elsif (req.http.xkey-softpurge) {
            set req.http.X-Edge-Purged = xkey.softpurge(req.http.xkey-softpurge);
        } else {
            return (synth(400, "PURGE needs an xkey-purge or xkey-softpurge header naming the keys"));
        }
        return (synth(200, "Purged"));
    }
    if (req.method !~ "^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$") {
        return (synth(405, "Method Not Allowed"));
    }

    # Healthy app: nothing past its TTL is served (an expired answer is fetched
    # again, conditionally). Sick app, or a retry after an error: the object's
    # own grace, EDGE_STALE_IF_ERROR seconds.
    if (req.http.X-Edge-Stale) {
        set req.grace = @STALE_IF_ERROR@s;
    } elsif (std.healthy(req.backend_hint)) {
        set req.grace = 0s;
    }

    # Uploads, forms, XML-RPC: never cached.
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.http.Authorization) {
        return (pass);
    }
    # Sessions, CSRF tokens, the admin, the health check: the app's alone.
    if (req.url ~ "^/(admin|account|manage|legacy|_health|_)(/|\?|$)"
        || req.url ~ "^/project/[^/]+/report/") {
        return (pass);
    }

    if (req.url ~ "^/(simple|packages|rss|integrity)/"
        || req.url ~ "^/pypi/[^/?]+/([^/?]+/)?json(\?|$)"
        || req.url ~ "^/api/openapi\.json") {
        # Answers that are the same whoever asks: cookies change nothing.
        unset req.http.Cookie;
    } elsif (req.http.Cookie ~ "(^|;)\s*(sessionid|messages)=") {
        # A signed-in visitor's page may show more (a "manage" link), and a
        # flash message is meant for one visitor: never from or into the cache.
        return (pass);
    } else {
        # An anonymous page does not depend on the other cookies (csrftoken and
        # the like). Without them, a page that uses a CSRF token sets a fresh
        # one, and an answer that sets a cookie is never cached (below).
        unset req.http.Cookie;
    }

    if (req.url ~ "^/simple/") {
        call normalize_accept;
    }
    return (hash);
}

# The simple API answers text/html, v1+html or v1+json, chosen from Accept
# (Vary: Accept). Keying on the raw header would keep one copy per client
# version; the common headers are reduced here to the type the app would choose
# for them, which the app then chooses again from the one type left. A header
# this cannot judge exactly (parameters other than q, q=0) is kept as it is:
# still correct, only shared with the clients sending the same one.
sub normalize_accept {
    if (!req.http.Accept) {
        # No Accept is */*: text/html first, as the public index answers.
        set req.http.Accept = "text/html";
    } elsif (req.http.Accept ~ ";\s*(?!q\s*=)[^\s;,]"
        || req.http.Accept ~ "(?i)\bq\s*=\s*0(\.0*)?\s*(;|,|$)") {
        return;
    } elsif (req.http.Accept ~ "(?i)^\s*application/vnd\.pypi\.simple\.(v1|latest)\+json\s*(;\s*q\s*=\s*1(\.0*)?\s*)?(,|$)") {
        # First, at q=1, with no more specific entry: pip and uv.
        set req.http.Accept = "application/vnd.pypi.simple.v1+json";
    } elsif (req.http.Accept ~ "(?i)^\s*application/vnd\.pypi\.simple\.(v1|latest)\+html\s*(;\s*q\s*=\s*1(\.0*)?\s*)?(,|$)") {
        set req.http.Accept = "application/vnd.pypi.simple.v1+html";
    } elsif (req.http.Accept ~ "(?i)^\s*text/html\s*(;\s*q\s*=\s*1(\.0*)?\s*)?(,|$)") {
        set req.http.Accept = "text/html";
    } elsif (req.http.Accept !~ "(?i)vnd\.pypi|application/\*") {
        # Only text/html, text/* or */* can match: text/html wins or ties, and
        # a tie goes to text/html; nothing acceptable is text/html too.
        set req.http.Accept = "text/html";
    }
}

sub vcl_hash {
    # Behind a TLS proxy the app's absolute links carry the scheme.
    hash_data(req.http.X-Forwarded-Proto);
}

sub vcl_hit {
    if (obj.ttl <= 0s) {
        set req.http.X-Edge-Cache = "HIT-STALE";
    } else {
        set req.http.X-Edge-Cache = "HIT";
    }
}

sub vcl_miss {
    set req.http.X-Edge-Cache = "MISS";
}

sub vcl_pass {
    set req.http.X-Edge-Cache = "PASS";
}

sub vcl_backend_response {
    # xkey indexes the object under the keys in its xkey header.
    if (beresp.http.Surrogate-Key) {
        set beresp.http.xkey = beresp.http.Surrogate-Key;
    }
    if (bereq.uncacheable) {
        return (deliver);
    }
    if (beresp.status >= 500) {
        # An error never replaces a good answer: a refresh in the background
        # keeps the old one; a miss goes back to the client, which retries on
        # the stale copy (vcl_deliver). Zero lifetime: nothing is inserted that
        # would hide the stale copy from that retry.
        if (bereq.is_bgfetch) {
            return (abandon);
        }
        set beresp.ttl = 0s;
        set beresp.grace = 0s;
        set beresp.keep = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    # Only what the app marks public, sets no cookie and does not vary on
    # everything. The app marks a signed-in visitor's page private.
    if (beresp.http.Set-Cookie
        || beresp.http.Cache-Control !~ "(?i)(^|[\s,])public\s*(,|$)"
        || beresp.http.Cache-Control ~ "(?i)private|no-cache|no-store"
        || beresp.http.Vary ~ "\*") {
        set beresp.ttl = 10s;
        set beresp.grace = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    # The edge's own lifetime, when the app gives one (it purges what changes);
    # browsers keep the app's Cache-Control.
    if (beresp.http.Surrogate-Control ~ "(?i)(^|[\s,])max-age\s*=\s*[0-9]+") {
        set beresp.ttl = std.duration(
            regsub(beresp.http.Surrogate-Control,
                "(?i)^(.*[\s,])?max-age\s*=\s*([0-9]+).*$", "\2") + "s",
            beresp.ttl);
    }
    unset beresp.http.Surrogate-Control;
    set beresp.grace = @STALE_IF_ERROR@s;
    return (deliver);
}

sub vcl_backend_error {
    # The app cannot be reached (stopped, or its probe failing): what has no
    # stale copy gets a message a person and twine can show.
    set beresp.status = 503;
    set beresp.reason = "The index is unavailable right now; try again later";
    set beresp.http.Content-Type = "text/plain; charset=utf-8";
    set beresp.http.Cache-Control = "no-store";
    set beresp.http.Retry-After = "30";
    synthetic({"The index is unavailable right now; try again later.
Installs of what was fetched recently still work; uploads and changes wait until it is back.
"});
    return (deliver);
}

sub vcl_deliver {
    # An error on a cacheable read: once more, allowing a stale copy.
    if (resp.status >= 500 && req.restarts == 0 && req.http.X-Edge-Cache == "MISS") {
        set req.http.X-Edge-Stale = "1";
        return (restart);
    }
    set resp.http.X-Cache = req.http.X-Edge-Cache;
    unset resp.http.xkey;
    unset resp.http.Surrogate-Key;
    unset resp.http.Surrogate-Control;
}

sub vcl_synth {
    set resp.http.Content-Type = "text/plain; charset=utf-8";
    if (req.method == "PURGE" && resp.status == 200) {
        # The number of objects purged.
        synthetic(req.http.X-Edge-Purged);
    } else {
        synthetic(resp.reason + {"
"});
    }
    return (deliver);
}
