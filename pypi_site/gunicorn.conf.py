"""gunicorn settings shared by every way the index is started: `make run`,
docker/Dockerfile and tests/liveserver.py pass ``--config`` with this file; the
command line adds what differs between them (address, workers, threads).
"""

import os

# How long an idle kept-alive connection stays open, in seconds. gunicorn's
# default of 2 s is shorter than the time clients keep a connection for reuse
# (requests/pip and urllib3 have no idle limit, httpx keeps 5 s, aiohttp 15 s),
# so a client asking every 2 s sent its next request just as the server closed
# the socket and saw "Server disconnected without sending a response". 75 s
# outlasts them, and a load balancer's idle timeout in front of the index (60 s
# on common cloud balancers; nginx keeps upstream connections idle for 60 s):
# the server must not be the side that closes a connection the other may still
# reuse. With the gthread worker an idle connection holds no thread.
keepalive = 75

# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads
# new connections over them. With one shared socket, the worker that happens to
# be scheduled drains the whole accept queue: measured with wrk (2 threads, 32
# kept-alive connections, 2 gthread workers, the simple page,
# benchmarks/simple_page.py --reuse-port), in 5 of 26 short runs one worker took
# every connection (99-100% of the CPU used, the other idle) and the run made
# about half the requests/s of an even one; with reuse_port, 0 of 22 runs, the
# busiest worker at 50-66%. The cost: a worker being replaced (max_requests,
# below) keeps its socket while it finishes its requests, so the connections
# the kernel hands it meanwhile wait that long (Linux moves them to another
# worker when the socket closes if net.ipv4.tcp_migrate_req = 1, else they are
# reset). Only processes of the same user can join the port.
reuse_port = True

# --- Shutdown and worker lifetime ---------------------------------------------------------

# On SIGTERM (a deploy, `docker compose stop`, a scale-down) the workers stop
# accepting and get this long, in seconds, to finish the requests they are
# serving before they are killed. The longest ordinary request is an upload of
# up to 100 MiB from a slow client; 60 s lets most finish instead of failing
# twine mid-file, while a machine still leaves within a minute. Whatever stops
# the server must wait longer than this before SIGKILL: docker/compose.yaml
# gives the app services a stop_grace_period of 75 s (Docker's default is 10 s,
# Kubernetes' 30 s).
graceful_timeout = 60

# A worker is replaced, gracefully, after this many requests: bounds slow
# memory growth (fragmentation after large uploads, a leak in a C extension)
# without a restart anyone sees. High, because each replacement costs a cold
# start (imports, empty in-process caches) and at the measured 2,000-5,000
# requests/s per worker a count of thousands would restart a worker every few
# seconds; the jitter keeps workers from being replaced at the same moment.
max_requests = 1_000_000
max_requests_jitter = 100_000

# The heartbeat file each worker touches: in memory, not on the container's
# overlay filesystem, where a slow write makes the arbiter think the worker hung.
# gunicorn makes it with mkstemp (a private, unguessable name), so the shared
# directory is safe for it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
