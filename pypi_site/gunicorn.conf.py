"""gunicorn settings shared by every way the index is started: `make run`,
docker/Dockerfile and tests/liveserver.py pass ``--config`` with this file; the
command line adds what differs between them (address, workers, threads).
"""

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
