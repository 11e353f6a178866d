/*
 * v4l2-writer: feeds frames from a file into a v4l2loopback device, so a
 * capture program in the test VM sees a real V4L2 camera producing known
 * bytes. Built statically by scripts/vm/build-tools.sh.
 *
 *   v4l2-writer -d DEV -f YUYV|MJPG -s WxH [-r FPS] [-l LOOPS]
 *               [-p K:SECONDS] [-w SECONDS] [-v] FILE
 *
 *   -d DEV      the loopback node (e.g. /dev/video10)
 *   -f FOURCC   YUYV: FILE holds raw YUYV frames of W*H*2 bytes back to back
 *               MJPG: FILE holds JPEG files concatenated; each frame ends at
 *               its EOI marker (found by walking the marker segments, so an
 *               EXIF thumbnail's own EOI does not split a frame)
 *   -s WxH      the frame size set on the OUTPUT side
 *   -r FPS      frames per second (default 10; 0 = as fast as possible)
 *   -l LOOPS    play FILE this many times (default 1)
 *   -p K:S      after the K-th frame written, pause S seconds (float), once
 *               (readers see no frame meanwhile: tests their timeouts)
 *   -w S        keep the device open S seconds after the last frame
 *   -v          print one line per frame: "frame N bytes=B fnv=HEX" (FNV-1a
 *               64 of the frame's bytes), and a final "done frames=N"
 *
 * The device's format is fixed by its first writer until the module is
 * reloaded; if the driver answers with another format than asked, the writer
 * stops with an error naming both. Exit status: 0 done, 1 error, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "usage: v4l2-writer -d DEV -f YUYV|MJPG -s WxH [-r FPS] [-l LOOPS] "
                    "[-p K:SECONDS] [-w SECONDS] [-v] FILE\n");
    exit(2);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Length of the JPEG starting at p (SOI ... EOI inclusive), or 0 if malformed. */
static size_t jpeg_len(const uint8_t *p, size_t n)
{
    size_t i = 2;
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8)
        return 0;
    for (;;) {
        while (i < n && p[i] == 0xFF && i + 1 < n && p[i + 1] == 0xFF)
            i++; /* fill bytes */
        if (i + 1 >= n || p[i] != 0xFF)
            return 0;
        uint8_t m = p[i + 1];
        if (m == 0xD9)
            return i + 2;
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
            i += 2;
            continue;
        }
        if (i + 3 >= n)
            return 0;
        size_t len = ((size_t)p[i + 2] << 8) | p[i + 3];
        i += 2 + len;
        if (m == 0xDA) { /* SOS: entropy-coded data up to the next real marker */
            while (i + 1 < n) {
                if (p[i] == 0xFF && p[i + 1] != 0x00 && !(p[i + 1] >= 0xD0 && p[i + 1] <= 0xD7))
                    break;
                i++;
            }
        }
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void sleep_for(double s)
{
    if (s > 0)
        sleep_until(now_s() + s);
}

int main(int argc, char **argv)
{
    const char *dev = NULL, *fourcc = NULL;
    unsigned w = 0, h = 0, loops = 1;
    double fps = 10, pause_s = 0, wait_s = 0;
    long pause_after = -1;
    int verbose = 0, c;

    while ((c = getopt(argc, argv, "d:f:s:r:l:p:w:v")) != -1) {
        switch (c) {
        case 'd': dev = optarg; break;
        case 'f': fourcc = optarg; break;
        case 's':
            if (sscanf(optarg, "%ux%u", &w, &h) != 2 || !w || !h)
                usage();
            break;
        case 'r': fps = atof(optarg); break;
        case 'l': loops = (unsigned)atoi(optarg); break;
        case 'p':
            if (sscanf(optarg, "%ld:%lf", &pause_after, &pause_s) != 2)
                usage();
            break;
        case 'w': wait_s = atof(optarg); break;
        case 'v': verbose = 1; break;
        default: usage();
        }
    }
    if (!dev || !fourcc || !w || optind != argc - 1)
        usage();
    int mjpeg;
    if (!strcmp(fourcc, "YUYV"))
        mjpeg = 0;
    else if (!strcmp(fourcc, "MJPG"))
        mjpeg = 1;
    else {
        fprintf(stderr, "v4l2-writer: format %s: expected YUYV or MJPG\n", fourcc);
        return 2;
    }

    /* The whole input, mapped. */
    const char *path = argv[optind];
    int in = open(path, O_RDONLY);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0 || st.st_size == 0) {
        fprintf(stderr, "v4l2-writer: %s: %s\n", path, in < 0 ? strerror(errno) : "empty file");
        return 1;
    }
    size_t size = (size_t)st.st_size;
    const uint8_t *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, in, 0);
    if (data == MAP_FAILED) {
        fprintf(stderr, "v4l2-writer: %s: mmap: %s\n", path, strerror(errno));
        return 1;
    }

    /* Split into frames: offsets[i]..offsets[i+1]. */
    size_t cap = 64, nframes = 0;
    size_t *off = malloc(cap * sizeof *off);
    size_t pos = 0;
    off[0] = 0;
    while (pos < size) {
        size_t len;
        if (mjpeg) {
            len = jpeg_len(data + pos, size - pos);
            if (!len) {
                fprintf(stderr, "v4l2-writer: %s: no complete JPEG at byte %zu (expected FFD8 ... FFD9)\n", path, pos);
                return 1;
            }
        } else {
            len = (size_t)w * h * 2;
            if (size - pos < len) {
                fprintf(stderr, "v4l2-writer: %s: %zu bytes is not a whole number of %ux%u YUYV frames (%zu bytes each)\n",
                        path, size, w, h, len);
                return 1;
            }
        }
        pos += len;
        if (nframes + 2 > cap) {
            cap *= 2;
            off = realloc(off, cap * sizeof *off);
        }
        off[++nframes] = pos;
    }

    int fd = open(dev, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "v4l2-writer: %s: %s\n", dev, strerror(errno));
        return 1;
    }
    struct v4l2_format fmt;
    memset(&fmt, 0, sizeof fmt);
    fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    fmt.fmt.pix.width = w;
    fmt.fmt.pix.height = h;
    fmt.fmt.pix.pixelformat = mjpeg ? V4L2_PIX_FMT_MJPEG : V4L2_PIX_FMT_YUYV;
    fmt.fmt.pix.field = V4L2_FIELD_NONE;
    fmt.fmt.pix.bytesperline = mjpeg ? 0 : w * 2;
    fmt.fmt.pix.sizeimage = w * h * 2; /* the driver sets its own */
    if (ioctl(fd, VIDIOC_S_FMT, &fmt) < 0) {
        fprintf(stderr, "v4l2-writer: %s: VIDIOC_S_FMT: %s\n", dev, strerror(errno));
        return 1;
    }
    uint32_t got = fmt.fmt.pix.pixelformat;
    if (fmt.fmt.pix.width != w || fmt.fmt.pix.height != h ||
        got != (mjpeg ? V4L2_PIX_FMT_MJPEG : V4L2_PIX_FMT_YUYV)) {
        fprintf(stderr, "v4l2-writer: %s: asked for %s %ux%u, the device has %.4s %ux%u (format is fixed by the first writer)\n",
                dev, fourcc, w, h, (char *)&got, fmt.fmt.pix.width, fmt.fmt.pix.height);
        return 1;
    }
    size_t maxframe = fmt.fmt.pix.sizeimage;
    if (fps > 0) {
        struct v4l2_streamparm parm;
        memset(&parm, 0, sizeof parm);
        parm.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
        parm.parm.output.timeperframe.numerator = 1000;
        parm.parm.output.timeperframe.denominator = (uint32_t)(fps * 1000);
        ioctl(fd, VIDIOC_S_PARM, &parm); /* advisory: the capture side reports it */
    }

    long written = 0;
    double next = now_s();
    for (unsigned l = 0; l < loops; l++) {
        for (size_t i = 0; i < nframes; i++) {
            const uint8_t *p = data + off[i];
            size_t n = off[i + 1] - off[i];
            if (n > maxframe) {
                fprintf(stderr, "v4l2-writer: frame %zu is %zu bytes, more than the device's %zu\n", i, n, maxframe);
                return 1;
            }
            if (fps > 0)
                sleep_until(next);
            ssize_t r = write(fd, p, n);
            if (r != (ssize_t)n) {
                fprintf(stderr, "v4l2-writer: %s: write of frame %ld: %s\n", dev, written,
                        r < 0 ? strerror(errno) : "short write");
                return 1;
            }
            if (verbose) {
                printf("frame %ld bytes=%zu fnv=%016llx\n", written, n, (unsigned long long)fnv1a(p, n));
                fflush(stdout);
            }
            written++;
            next += fps > 0 ? 1.0 / fps : 0;
            if (written == pause_after) {
                sleep_for(pause_s);
                next = now_s();
            }
        }
    }
    if (verbose)
        printf("done frames=%ld\n", written);
    fflush(stdout);
    sleep_for(wait_s);
    close(fd);
    return 0;
}
