/* Runs SpanDSP's DTMF receiver or its supervisory (call-progress) tone receiver over raw 8 kHz s16le audio.
 *
 * usage: spandsp_harness dtmf FILE.raw [repeats]
 *        spandsp_harness progress FILE.raw
 * Audio is fed in 20 ms chunks (160 samples), as a channel receives it; every report is printed as one JSON
 * line stamped with the sample count at the end of the chunk that produced it. A final line gives the time
 * taken by one pass over the whole file in a single call (CPU time, the best of `repeats` passes), for speed
 * figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <spandsp.h>

#define CHUNK 160

static long position;  /* samples fed, up to the end of the current chunk */
static const char *progress_names[] = {"dial", "recall_dial", "ringback", "busy", "reorder", "sit", "call_waiting"};

static void on_digit(void *user, int code, int level, int delay)
{
    (void) user; (void) level; (void) delay;
    if (code)
        printf("{\"kind\": \"start\", \"digit\": \"%c\", \"sample\": %ld}\n", code, position);
    else
        printf("{\"kind\": \"end\", \"sample\": %ld}\n", position);
}

static void on_digits_quiet(void *user, const char *digits, int len)
{
    (void) user; (void) digits; (void) len;
}

static void on_tone(void *user, int code, int level, int delay)
{
    (void) user; (void) level; (void) delay;
    if (code >= 0)
        printf("{\"kind\": \"start\", \"tone\": \"%s\", \"sample\": %ld}\n", progress_names[code], position);
    else
        printf("{\"kind\": \"end\", \"sample\": %ld}\n", position);
}

static void on_tone_quiet(void *user, int code, int level, int delay)
{
    (void) user; (void) code; (void) level; (void) delay;
}

static int16_t *load(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int16_t *buf = malloc(bytes + 2);
    *n = (long) fread(buf, 2, bytes / 2, f);
    fclose(f);
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* North American tones, one cadence cycle each, as E.180 and the usual tone-zone tables describe them. */
static super_tone_rx_descriptor_t *progress_descriptor(void)
{
    super_tone_rx_descriptor_t *d = super_tone_rx_make_descriptor(NULL);
    int t;
    t = super_tone_rx_add_tone(d);  /* dial: continuous; the same 300 ms minimum our detector uses */
    super_tone_rx_add_element(d, t, 350, 440, 300, 0);
    t = super_tone_rx_add_tone(d);  /* recall dial: 100 ms bursts */
    super_tone_rx_add_element(d, t, 350, 440, 60, 140);
    super_tone_rx_add_element(d, t, 0, 0, 60, 140);
    super_tone_rx_add_element(d, t, 350, 440, 60, 140);
    super_tone_rx_add_element(d, t, 0, 0, 60, 140);
    t = super_tone_rx_add_tone(d);  /* ringback 2 s on, 4 s off */
    super_tone_rx_add_element(d, t, 440, 480, 1600, 2400);
    super_tone_rx_add_element(d, t, 0, 0, 3200, 4800);
    t = super_tone_rx_add_tone(d);  /* busy 0.5 / 0.5 s */
    super_tone_rx_add_element(d, t, 480, 620, 400, 650);
    super_tone_rx_add_element(d, t, 0, 0, 400, 650);
    t = super_tone_rx_add_tone(d);  /* reorder 0.25 / 0.25 s */
    super_tone_rx_add_element(d, t, 480, 620, 180, 350);
    super_tone_rx_add_element(d, t, 0, 0, 180, 350);
    t = super_tone_rx_add_tone(d);  /* SIT: three rising tones */
    super_tone_rx_add_element(d, t, 914, 0, 200, 450);
    super_tone_rx_add_element(d, t, 1371, 0, 200, 450);
    super_tone_rx_add_element(d, t, 1777, 0, 200, 450);
    t = super_tone_rx_add_tone(d);  /* call waiting: a 300 ms burst of 440 Hz (the same 270-450 ms our detector accepts) */
    super_tone_rx_add_element(d, t, 440, 0, 270, 450);
    super_tone_rx_add_element(d, t, 0, 0, 100, 0);
    return d;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s dtmf|progress FILE.raw [repeats]\n", argv[0]); return 2; }
    long n;
    int16_t *amp = load(argv[2], &n);
    int repeats = argc > 3 ? atoi(argv[3]) : 1;
    double best = 1e30;
    if (strcmp(argv[1], "dtmf") == 0) {
        dtmf_rx_state_t *rx = dtmf_rx_init(NULL, on_digits_quiet, NULL);
        dtmf_rx_set_realtime_callback(rx, on_digit, NULL);
        for (position = 0; position < n; ) {
            long len = n - position < CHUNK ? n - position : CHUNK;
            position += len;
            dtmf_rx(rx, amp + position - len, (int) len);
        }
        dtmf_rx_free(rx);
        for (int r = 0; r < repeats; r++) {
            rx = dtmf_rx_init(NULL, on_digits_quiet, NULL);
            double t0 = now();
            dtmf_rx(rx, amp, (int) n);
            double t1 = now();
            dtmf_rx_free(rx);
            if (t1 - t0 < best) best = t1 - t0;
        }
    } else if (strcmp(argv[1], "progress") == 0) {
        super_tone_rx_descriptor_t *d = progress_descriptor();
        super_tone_rx_state_t *rx = super_tone_rx_init(NULL, d, on_tone, NULL);
        for (position = 0; position < n; ) {
            long len = n - position < CHUNK ? n - position : CHUNK;
            position += len;
            super_tone_rx(rx, amp + position - len, (int) len);
        }
        super_tone_rx_free(rx);
        for (int r = 0; r < repeats; r++) {
            rx = super_tone_rx_init(NULL, d, on_tone_quiet, NULL);
            double t0 = now();
            super_tone_rx(rx, amp, (int) n);
            double t1 = now();
            super_tone_rx_free(rx);
            if (t1 - t0 < best) best = t1 - t0;
        }
        super_tone_rx_free_descriptor(d);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    printf("{\"kind\": \"timing\", \"samples\": %ld, \"seconds\": %.9f}\n", n, repeats ? best : 0.0);
    free(amp);
    return 0;
}
