/*
 * anchor: zmqkit's native libzmq measuring program. zmqkit's bench
 * compiles it at bench time (cc -O2 anchor.c -lzmq) so that its figures
 * sit beside libzmq's own, measured in separate processes as zmqkit's are.
 *
 * Modes, one per invocation:
 *
 *   local_thr  ENDPOINT SIZE COUNT   PULL, bind, receive COUNT messages
 *   remote_thr ENDPOINT SIZE COUNT   PUSH, connect, send COUNT messages
 *   local_lat  ENDPOINT SIZE COUNT   REP, bind, echo COUNT requests
 *   remote_lat ENDPOINT SIZE COUNT   REQ, connect, time COUNT round trips
 *
 * take the arguments of libzmq's perf tools and print the same result
 * lines, so any of them can stand in for one of those tools; remote_lat
 * also times each round trip and adds its median and 99th percentile
 * ("p50 roundtrip: X [us]", "p99 roundtrip: Y [us]"). The same pair over
 * DEALER and ROUTER:
 *
 *   local_lat_router  ENDPOINT SIZE COUNT   ROUTER, bind, echo COUNT
 *   remote_lat_dealer ENDPOINT SIZE COUNT   DEALER, connect, time COUNT
 *
 * Two more
 * speak the bench's line protocol (see bench/child.go):
 *
 *   pub ENDPOINT SIZE COUNT RATE [WARM]
 *                                    PUB, bind; probes until a line on
 *                                    stdin, WARM more probes (default 0)
 *                                    then COUNT messages, all paced to
 *                                    RATE msgs/s (0: flat out), then end
 *                                    marks until the next line or end of
 *                                    input
 *   sub ENDPOINT SIZE COUNT NSUBS    NSUBS SUB sockets, connect; "ready"
 *                                    once each saw a probe; counts until
 *                                    each saw an end mark
 *   version                          libzmq's version, from zmq_version
 *
 * Every socket keeps libzmq's default options (HWMs of 1000, linger).
 * With ZMQKIT_ANCHOR_RSS set, the anchor ends by writing its peak RSS to
 * stderr ("anchor: peak RSS N kB", Linux's VmHWM), which the bench reads:
 * wait4's figure includes the memory of the process it was forked from.
 * Messages carry a big-endian sequence number in their first 8 bytes.
 */
#include <zmq.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBE UINT64_MAX
#define END_MARK (UINT64_MAX - 1)
#define MAX_SUBS 100

static void die(const char *what)
{
    fprintf(stderr, "anchor: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put_seq(unsigned char *p, uint64_t seq)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char) (seq & 0xff);
        seq >>= 8;
    }
}

static uint64_t get_seq(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* parent_spoke reports whether a line (or the end) came on stdin within
 * wait_ms milliseconds, and consumes what came. */
static int parent_spoke(int wait_ms)
{
    struct pollfd pfd = {0, POLLIN, 0};
    if (poll(&pfd, 1, wait_ms) <= 0)
        return 0;
    char buf[256];
    (void) read(0, buf, sizeof buf);
    return 1;
}

/* send_new sends a freshly allocated message of size bytes stamped seq. */
static int send_new(void *s, size_t size, uint64_t seq, int flags)
{
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, size) != 0)
        die("zmq_msg_init_size");
    memset(zmq_msg_data(&m), 0, size);
    put_seq(zmq_msg_data(&m), seq);
    int rc = zmq_msg_send(&m, s, flags);
    if (rc < 0)
        zmq_msg_close(&m);
    return rc;
}

static void *open_socket(void *ctx, int type, const char *ep, int bind)
{
    void *s = zmq_socket(ctx, type);
    if (!s)
        die("zmq_socket");
    if ((bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) != 0)
        die(bind ? "zmq_bind" : "zmq_connect");
    return s;
}

static void recv_sized(void *s, zmq_msg_t *m, size_t size)
{
    if (zmq_msg_recv(m, s, 0) < 0)
        die("zmq_msg_recv");
    if (zmq_msg_size(m) != size) {
        fprintf(stderr, "anchor: message of %zu bytes, want %zu\n", zmq_msg_size(m), size);
        exit(1);
    }
}

static void local_thr(void *ctx, const char *ep, size_t size, long count)
{
    void *s = open_socket(ctx, ZMQ_PULL, ep, 1);
    zmq_msg_t m;
    zmq_msg_init(&m);
    recv_sized(s, &m, size);
    int64_t start = now_ns();
    for (long i = 1; i < count; i++)
        recv_sized(s, &m, size);
    int64_t elapsed = now_ns() - start;
    if (elapsed <= 0)
        elapsed = 1;
    zmq_msg_close(&m);
    double rate = (double) count * 1e9 / (double) elapsed;
    printf("message size: %d [B]\n", (int) size);
    printf("message count: %d\n", (int) count);
    printf("mean throughput: %d [msg/s]\n", (int) rate);
    printf("mean throughput: %.3f [Mb/s]\n", rate * (double) size * 8 / 1e6);
    zmq_close(s);
}

static void remote_thr(void *ctx, const char *ep, size_t size, long count)
{
    void *s = open_socket(ctx, ZMQ_PUSH, ep, 0);
    for (long i = 0; i < count; i++)
        if (send_new(s, size, (uint64_t) i, 0) < 0)
            die("zmq_msg_send");
    zmq_close(s); /* the default linger waits until everything is written */
}

/* local_lat echoes over REP, or over ROUTER (its routing id frame first). */
static void local_lat(void *ctx, const char *ep, size_t size, long count, int type)
{
    void *s = open_socket(ctx, type, ep, 1);
    zmq_msg_t id, m;
    zmq_msg_init(&id);
    zmq_msg_init(&m);
    for (long i = 0; i < count; i++) {
        if (type == ZMQ_ROUTER && zmq_msg_recv(&id, s, 0) < 0)
            die("zmq_msg_recv");
        recv_sized(s, &m, size);
        if (type == ZMQ_ROUTER && zmq_msg_send(&id, s, ZMQ_SNDMORE) < 0)
            die("zmq_msg_send");
        if (zmq_msg_send(&m, s, 0) < 0)
            die("zmq_msg_send");
    }
    zmq_msg_close(&id);
    zmq_msg_close(&m);
    zmq_close(s);
}

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

/* remote_lat times count round trips over REQ (or DEALER, which sends no
 * envelope to a ROUTER): the mean one way, as libzmq's tool prints it, and
 * each trip's own time for the percentiles. */
static void remote_lat(void *ctx, const char *ep, size_t size, long count, int type)
{
    void *s = open_socket(ctx, type, ep, 0);
    int64_t *trips = malloc((size_t) count * sizeof *trips);
    if (!trips) {
        fprintf(stderr, "anchor: no memory for %ld round trips\n", count);
        exit(1);
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    int64_t start = now_ns(), last = start;
    for (long i = 0; i < count; i++) {
        if (send_new(s, size, (uint64_t) i, 0) < 0)
            die("zmq_msg_send");
        recv_sized(s, &m, size);
        int64_t t = now_ns();
        trips[i] = t - last;
        last = t;
    }
    int64_t elapsed = last - start;
    zmq_msg_close(&m);
    qsort(trips, (size_t) count, sizeof *trips, by_value);
    printf("message size: %d [B]\n", (int) size);
    printf("roundtrip count: %d\n", (int) count);
    printf("average latency: %.3f [us]\n", (double) elapsed / 1e3 / (double) count / 2);
    printf("p50 roundtrip: %.3f [us]\n", (double) trips[count / 2] / 1e3);
    printf("p99 roundtrip: %.3f [us]\n", (double) trips[count * 99 / 100] / 1e3);
    free(trips);
    zmq_close(s);
}

static void pub(void *ctx, const char *ep, size_t size, long count, double rate, long warm)
{
    void *s = open_socket(ctx, ZMQ_PUB, ep, 1);
    printf("listening %s\n", ep);
    fflush(stdout);
    while (!parent_spoke(1))
        send_new(s, size, PROBE, 0);
    /* One pace over the warm-up probes and the counted messages; the
     * elapsed time is the counted part's. */
    int64_t start = now_ns(), counted = start;
    for (long i = 0; i < warm + count; i++) {
        if (rate > 0 && i % 16 == 0) {
            int64_t due = start + (int64_t) ((double) i / rate * 1e9);
            int64_t wait = due - now_ns();
            if (wait > 0) {
                struct timespec ts = {wait / 1000000000, wait % 1000000000};
                nanosleep(&ts, NULL);
            }
        }
        if (i == warm)
            counted = now_ns();
        if (send_new(s, size, i < warm ? PROBE : (uint64_t) (i - warm), 0) < 0)
            die("zmq_msg_send");
    }
    int64_t elapsed = now_ns() - counted;
    while (!parent_spoke(5))
        send_new(s, size, END_MARK, 0);
    printf("result {\"sent\":%ld,\"elapsed_ns\":%lld}\n", count, (long long) elapsed);
    fflush(stdout);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(s);
}

static void sub(void *ctx, const char *ep, size_t size, int nsubs)
{
    void *socks[MAX_SUBS];
    zmq_pollitem_t items[MAX_SUBS];
    uint64_t got[MAX_SUBS] = {0}, next[MAX_SUBS] = {0}, reordered = 0;
    int probed[MAX_SUBS] = {0}, ended[MAX_SUBS] = {0};
    int nprobed = 0, nended = 0;
    int64_t first = 0, last = 0;
    (void) size; /* the sequence number is all a subscriber reads */
    for (int i = 0; i < nsubs; i++) {
        socks[i] = open_socket(ctx, ZMQ_SUB, ep, 0);
        if (zmq_setsockopt(socks[i], ZMQ_SUBSCRIBE, "", 0) != 0)
            die("zmq_setsockopt");
        items[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (nended < nsubs) {
        if (zmq_poll(items, nsubs, -1) < 0)
            die("zmq_poll");
        for (int i = 0; i < nsubs; i++) {
            while (!ended[i] && zmq_msg_recv(&m, socks[i], ZMQ_DONTWAIT) >= 0) {
                if (zmq_msg_size(&m) < 8)
                    continue;
                uint64_t seq = get_seq(zmq_msg_data(&m));
                if (seq == END_MARK) {
                    ended[i] = 1;
                    nended++;
                    break;
                }
                if (!probed[i]) {
                    probed[i] = 1;
                    if (++nprobed == nsubs) {
                        printf("ready\n");
                        fflush(stdout);
                    }
                }
                if (seq == PROBE)
                    continue;
                int64_t t = now_ns();
                if (first == 0 || t < first)
                    first = t;
                last = t;
                got[i]++;
                if (seq < next[i])
                    reordered++;
                else
                    next[i] = seq + 1;
            }
        }
    }
    zmq_msg_close(&m);
    uint64_t total = 0;
    for (int i = 0; i < nsubs; i++) {
        total += got[i];
        zmq_close(socks[i]);
    }
    printf("result {\"received\":%llu,\"reordered\":%llu,\"elapsed_ns\":%lld}\n",
           (unsigned long long) total, (unsigned long long) reordered, (long long) (last - first));
    fflush(stdout);
}

static void report_rss(void)
{
    if (!getenv("ZMQKIT_ANCHOR_RSS"))
        return;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    long kb;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
            fprintf(stderr, "anchor: peak RSS %ld kB\n", kb);
            break;
        }
    fclose(f);
}

static long number(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v <= 0) {
        fprintf(stderr, "anchor: %s %s: want a positive whole number\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "version") == 0) {
        int major, minor, patch;
        zmq_version(&major, &minor, &patch);
        printf("%d.%d.%d\n", major, minor, patch);
        return 0;
    }
    int extra = argc > 1 && (strcmp(argv[1], "pub") == 0 || strcmp(argv[1], "sub") == 0);
    int optional = argc > 1 && strcmp(argv[1], "pub") == 0; /* WARM */
    if (argc != 5 + extra && argc != 5 + extra + optional) {
        fprintf(stderr, "usage: anchor local_thr|remote_thr|local_lat|remote_lat|local_lat_router|remote_lat_dealer ENDPOINT SIZE COUNT\n"
                        "       anchor pub ENDPOINT SIZE COUNT RATE [WARM] | sub ENDPOINT SIZE COUNT NSUBS | version\n");
        return 2;
    }
    const char *mode = argv[1], *ep = argv[2];
    size_t size = (size_t) number(argv[3], "SIZE");
    long count = number(argv[4], "COUNT");
    void *ctx = zmq_ctx_new();
    if (!ctx)
        die("zmq_ctx_new");
    if (strcmp(mode, "local_thr") == 0)
        local_thr(ctx, ep, size, count);
    else if (strcmp(mode, "remote_thr") == 0)
        remote_thr(ctx, ep, size, count);
    else if (strcmp(mode, "local_lat") == 0)
        local_lat(ctx, ep, size, count, ZMQ_REP);
    else if (strcmp(mode, "remote_lat") == 0)
        remote_lat(ctx, ep, size, count, ZMQ_REQ);
    else if (strcmp(mode, "local_lat_router") == 0)
        local_lat(ctx, ep, size, count, ZMQ_ROUTER);
    else if (strcmp(mode, "remote_lat_dealer") == 0)
        remote_lat(ctx, ep, size, count, ZMQ_DEALER);
    else if (strcmp(mode, "pub") == 0 || strcmp(mode, "sub") == 0) {
        if (size < 8) {
            fprintf(stderr, "anchor: SIZE %zu: want at least 8 (the sequence number)\n", size);
            return 2;
        }
        if (strcmp(mode, "pub") == 0)
            pub(ctx, ep, size, count, strtod(argv[5], NULL), argc > 6 ? atol(argv[6]) : 0);
        else {
            long n = number(argv[5], "NSUBS");
            if (n > MAX_SUBS) {
                fprintf(stderr, "anchor: NSUBS %ld: at most %d\n", n, MAX_SUBS);
                return 2;
            }
            sub(ctx, ep, size, (int) n);
        }
    } else {
        fprintf(stderr, "anchor: unknown mode %s\n", mode);
        return 2;
    }
    zmq_ctx_term(ctx);
    report_rss();
    return 0;
}
