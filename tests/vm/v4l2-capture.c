/*
 * v4l2-capture: an independent V4L2 reader for the test VM (it shares no code
 * with edgepose, so it can check the bed itself). Built statically by
 * scripts/vm/build-tools.sh.
 *
 *   v4l2-capture info DEV
 *       driver=... card=... capture=0|1 output=0|1 streaming=0|1
 *       format FOURCC WxH ...   one line per VIDIOC_ENUM_FMT entry (capture),
 *                               with its discrete frame sizes
 *       current FOURCC WxH bytesperline=N sizeimage=N
 *
 *   v4l2-capture grab DEV [-n FRAMES] [-f FOURCC] [-s WxH] [-t SECONDS] [-b BUFFERS]
 *       Streams with mmap buffers and prints, per frame,
 *       "frame I seq=S bytes=B fnv=HEX" (FNV-1a 64 of the frame's bytesused
 *       bytes); a wait longer than -t seconds (default 5) prints
 *       "timeout after=I" and exits 3. -f/-s set the capture format first.
 *
 * Exit status: 0 ok, 1 error, 2 usage, 3 timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *dev;

static void usage(void)
{
    fprintf(stderr, "usage: v4l2-capture info DEV\n"
                    "       v4l2-capture grab DEV [-n FRAMES] [-f FOURCC] [-s WxH] [-t SECONDS] [-b BUFFERS]\n");
    exit(2);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *name)
{
    int r;
    do
        r = ioctl(fd, req, arg);
    while (r < 0 && errno == EINTR);
    if (r < 0 && name) {
        fprintf(stderr, "v4l2-capture: %s: %s: %s\n", dev, name, strerror(errno));
        exit(1);
    }
    return r;
}

static const char *fcc(uint32_t f, char *buf)
{
    memcpy(buf, &f, 4);
    buf[4] = 0;
    return buf;
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

static int info(int fd)
{
    struct v4l2_capability cap;
    char b[5];
    memset(&cap, 0, sizeof cap);
    xioctl(fd, VIDIOC_QUERYCAP, &cap, "VIDIOC_QUERYCAP");
    uint32_t c = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
    printf("driver=%s card=%s capture=%d output=%d streaming=%d readwrite=%d\n", cap.driver, cap.card,
           !!(c & V4L2_CAP_VIDEO_CAPTURE), !!(c & V4L2_CAP_VIDEO_OUTPUT), !!(c & V4L2_CAP_STREAMING),
           !!(c & V4L2_CAP_READWRITE));
    if (!(c & V4L2_CAP_VIDEO_CAPTURE))
        return 0;
    for (unsigned i = 0;; i++) {
        struct v4l2_fmtdesc d;
        memset(&d, 0, sizeof d);
        d.index = i;
        d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        if (xioctl(fd, VIDIOC_ENUM_FMT, &d, NULL) < 0)
            break;
        printf("format %s", fcc(d.pixelformat, b));
        for (unsigned j = 0;; j++) {
            struct v4l2_frmsizeenum s;
            memset(&s, 0, sizeof s);
            s.index = j;
            s.pixel_format = d.pixelformat;
            if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &s, NULL) < 0)
                break;
            if (s.type == V4L2_FRMSIZE_TYPE_DISCRETE)
                printf(" %ux%u", s.discrete.width, s.discrete.height);
            else {
                printf(" %ux%u-%ux%u", s.stepwise.min_width, s.stepwise.min_height, s.stepwise.max_width,
                       s.stepwise.max_height);
                break;
            }
        }
        printf("\n");
    }
    struct v4l2_format f;
    memset(&f, 0, sizeof f);
    f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    xioctl(fd, VIDIOC_G_FMT, &f, "VIDIOC_G_FMT");
    printf("current %s %ux%u bytesperline=%u sizeimage=%u\n", fcc(f.fmt.pix.pixelformat, b), f.fmt.pix.width,
           f.fmt.pix.height, f.fmt.pix.bytesperline, f.fmt.pix.sizeimage);
    return 0;
}

static int grab(int fd, int argc, char **argv)
{
    long frames = 1;
    unsigned w = 0, h = 0, nbuf = 4;
    int timeout_ms = 5000, c;
    const char *fourcc = NULL;
    char b[5];
    optind = 3;
    while ((c = getopt(argc, argv, "n:f:s:t:b:")) != -1) {
        switch (c) {
        case 'n': frames = atol(optarg); break;
        case 'f': fourcc = optarg; break;
        case 's':
            if (sscanf(optarg, "%ux%u", &w, &h) != 2)
                usage();
            break;
        case 't': timeout_ms = (int)(atof(optarg) * 1000); break;
        case 'b': nbuf = (unsigned)atoi(optarg); break;
        default: usage();
        }
    }
    struct v4l2_format f;
    memset(&f, 0, sizeof f);
    f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    xioctl(fd, VIDIOC_G_FMT, &f, "VIDIOC_G_FMT");
    if (fourcc || w) {
        if (fourcc) {
            if (strlen(fourcc) != 4) usage();
            memcpy(&f.fmt.pix.pixelformat, fourcc, 4);
        }
        if (w) {
            f.fmt.pix.width = w;
            f.fmt.pix.height = h;
        }
        f.fmt.pix.bytesperline = 0;
        f.fmt.pix.sizeimage = 0;
        xioctl(fd, VIDIOC_S_FMT, &f, "VIDIOC_S_FMT");
    }
    printf("streaming %s %ux%u bytesperline=%u sizeimage=%u\n", fcc(f.fmt.pix.pixelformat, b), f.fmt.pix.width,
           f.fmt.pix.height, f.fmt.pix.bytesperline, f.fmt.pix.sizeimage);
    fflush(stdout);

    struct v4l2_requestbuffers rb;
    memset(&rb, 0, sizeof rb);
    rb.count = nbuf;
    rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    rb.memory = V4L2_MEMORY_MMAP;
    xioctl(fd, VIDIOC_REQBUFS, &rb, "VIDIOC_REQBUFS");
    void **map = calloc(rb.count, sizeof *map);
    for (unsigned i = 0; i < rb.count; i++) {
        struct v4l2_buffer qb;
        memset(&qb, 0, sizeof qb);
        qb.index = i;
        qb.type = rb.type;
        qb.memory = V4L2_MEMORY_MMAP;
        xioctl(fd, VIDIOC_QUERYBUF, &qb, "VIDIOC_QUERYBUF");
        map[i] = mmap(NULL, qb.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, qb.m.offset);
        if (map[i] == MAP_FAILED) {
            fprintf(stderr, "v4l2-capture: %s: mmap buffer %u: %s\n", dev, i, strerror(errno));
            return 1;
        }
        xioctl(fd, VIDIOC_QBUF, &qb, "VIDIOC_QBUF");
    }
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    xioctl(fd, VIDIOC_STREAMON, &type, "VIDIOC_STREAMON");
    for (long n = 0; n < frames; n++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r;
        do
            r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0) {
            printf("timeout after=%ld\n", n);
            return 3;
        }
        struct v4l2_buffer qb;
        memset(&qb, 0, sizeof qb);
        qb.type = type;
        qb.memory = V4L2_MEMORY_MMAP;
        xioctl(fd, VIDIOC_DQBUF, &qb, "VIDIOC_DQBUF");
        printf("frame %ld seq=%u bytes=%u fnv=%016llx\n", n, qb.sequence, qb.bytesused,
               (unsigned long long)fnv1a(map[qb.index], qb.bytesused));
        fflush(stdout);
        xioctl(fd, VIDIOC_QBUF, &qb, "VIDIOC_QBUF");
    }
    xioctl(fd, VIDIOC_STREAMOFF, &type, "VIDIOC_STREAMOFF");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    dev = argv[2];
    int fd = open(dev, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "v4l2-capture: %s: %s\n", dev, strerror(errno));
        return 1;
    }
    if (!strcmp(argv[1], "info"))
        return info(fd);
    if (!strcmp(argv[1], "grab"))
        return grab(fd, argc, argv);
    usage();
    return 2;
}
