/* fusehang: a FUSE file system whose reads and writes never return, for the tests of stalls
 * (test_stall.c). It speaks the kernel's FUSE protocol on /dev/fuse itself: no libfuse.
 *
 *   fusehang serve DIR   mounts on DIR a root directory holding one file, f (0666, 4096
 *                        bytes, root's), answers what a lookup, a stat, an open or a close
 *                        needs, and never answers READ, WRITE and FSYNC: whoever reads, writes
 *                        or syncs f waits until the server goes. Prints "ready" once the
 *                        kernel's INIT is answered; on SIGTERM or SIGINT it closes /dev/fuse
 *                        (the kernel aborts the connection: every held request fails with
 *                        ENOTCONN and its waiter is released), detaches the mount and exits 0.
 *   fusehang hold FILE   FILE on a fusehang mount: leaves this process's mmap_lock held for
 *                        reading by a page fault into the READ that never returns, with a
 *                        writer queued behind it, then prints its pid and sleeps. Whoever
 *                        then takes that mmap_lock for reading (a read of
 *                        /proc/PID/smaps_rollup, /proc/PID/cmdline) waits until the server
 *                        goes. While that READ is held, an open of f waits too (an open
 *                        drops f's cached pages, and waits for the one being read).
 *
 * Exit status 77 where the machine cannot do it (no /dev/fuse, mount refused, the stall does
 * not happen): the tests skip. With $FUSEHANG_TRACE set, serve logs each request to stderr;
 * with $FUSEHANG_ANSWER_WRITES=N it answers the first N WRITEs (a report's header goes
 * through, its next rows stall); with $FUSEHANG_HOLD_FLUSH set it holds FLUSH too (every
 * close of f waits). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_CANNOT = 77 };

/* The file's node id (the root's is FUSE_ROOT_ID) and its size: one page, so that a mapping
 * of it has a page to fault in. */
enum { FILE_NODE = 2, FILE_SIZE = 4096 };
/* Largest WRITE payload the kernel may send, and a read buffer that holds one with its
 * headers (the kernel refuses reads into smaller buffers). */
enum { MAX_WRITE = 128 * 1024, BUF_SIZE = MAX_WRITE + 4096 };

static bool trace;
static long answer_writes; /* WRITEs still to answer before holding them */
static bool hold_flush;    /* FLUSH held too: every close of f waits */
static uint64_t start_time;

static void fill_attr(uint64_t node, struct fuse_attr *a)
{
        memset(a, 0, sizeof(*a));
        a->ino = node;
        a->atime = a->mtime = a->ctime = start_time;
        a->blksize = 4096;
        if (node == FUSE_ROOT_ID) {
                a->mode = S_IFDIR | 0755;
                a->nlink = 2;
        } else {
                a->mode = S_IFREG | 0666;
                a->nlink = 1;
                a->size = FILE_SIZE;
                a->blocks = FILE_SIZE / 512;
        }
}

/* A reply: the header, then the payload. A write that fails with ENOENT is a request the
 * kernel has given up meanwhile (its caller was interrupted): nothing to do. */
static void reply(int fd, uint64_t unique, int error, const void *payload, size_t len)
{
        struct fuse_out_header h = {
            .len = (uint32_t)(sizeof(h) + len), .error = -error, .unique = unique};
        struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, len}};
        if (writev(fd, iov, len ? 2 : 1) < 0 && errno != ENOENT && trace)
                fprintf(stderr, "fusehang: reply to %llu: %s\n", (unsigned long long)unique,
                        strerror(errno));
}

static void reply_attr(int fd, uint64_t unique, uint64_t node)
{
        struct fuse_attr_out out = {.attr_valid = 1};
        fill_attr(node, &out.attr);
        reply(fd, unique, 0, &out, sizeof(out));
}

/* The root's entries from offset on: ".", ".." and "f"; each entry's off is the offset of
 * the next one. */
static void reply_readdir(int fd, uint64_t unique, const struct fuse_read_in *in)
{
        static const struct {
                uint64_t ino;
                const char *name;
                uint32_t type;
        } entries[] = {{FUSE_ROOT_ID, ".", S_IFDIR >> 12},
                       {FUSE_ROOT_ID, "..", S_IFDIR >> 12},
                       {FILE_NODE, "f", S_IFREG >> 12}};
        char out[4096];
        size_t len = 0, max = in->size < sizeof(out) ? in->size : sizeof(out);
        for (uint64_t i = in->offset; i < sizeof(entries) / sizeof(entries[0]); i++) {
                size_t namelen = strlen(entries[i].name);
                size_t size = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
                if (len + size > max)
                        break;
                struct fuse_dirent *d = (struct fuse_dirent *)(out + len);
                memset(d, 0, size);
                d->ino = entries[i].ino;
                d->off = i + 1;
                d->namelen = (uint32_t)namelen;
                d->type = entries[i].type;
                memcpy(d->name, entries[i].name, namelen);
                len += size;
        }
        reply(fd, unique, 0, out, len);
}

/* Answers one request, or holds it (READ, WRITE, FSYNC), or says nothing (FORGET). Returns
 * whether it was INIT. */
static bool handle(int fd, const char *buf, size_t n)
{
        const struct fuse_in_header *h = (const void *)buf;
        const char *arg = buf + sizeof(*h);
        if (n < sizeof(*h) || h->len > n)
                return false;
        if (trace)
                fprintf(stderr, "fusehang: opcode %u node %llu unique %llu\n", h->opcode,
                        (unsigned long long)h->nodeid, (unsigned long long)h->unique);
        switch (h->opcode) {
        case FUSE_INIT: {
                const struct fuse_init_in *in = (const void *)arg;
                /* No capability flags: no async reads, no writeback cache, no readdirplus.
                 * No readahead either: a page fault on f reads that page alone, in one
                 * synchronous READ, and the faulting task waits in it. */
                struct fuse_init_out out = {.major = FUSE_KERNEL_VERSION,
                                            .minor = FUSE_KERNEL_MINOR_VERSION,
                                            .max_readahead = 0,
                                            .max_background = 16,
                                            .congestion_threshold = 12,
                                            .max_write = MAX_WRITE,
                                            .time_gran = 1};
                if (in->major != FUSE_KERNEL_VERSION) {
                        reply(fd, h->unique, EPROTO, NULL, 0);
                        return false;
                }
                if (in->minor < out.minor)
                        out.minor = in->minor;
                reply(fd, h->unique, 0, &out, sizeof(out));
                return true;
        }
        case FUSE_LOOKUP:
                if (h->nodeid == FUSE_ROOT_ID && strcmp(arg, "f") == 0) {
                        struct fuse_entry_out out = {.nodeid = FILE_NODE,
                                                     .generation = 1,
                                                     .entry_valid = 1,
                                                     .attr_valid = 1};
                        fill_attr(FILE_NODE, &out.attr);
                        reply(fd, h->unique, 0, &out, sizeof(out));
                } else {
                        reply(fd, h->unique, ENOENT, NULL, 0);
                }
                return false;
        case FUSE_GETATTR:
        case FUSE_SETATTR: /* nothing changes: the answer is f as it always is */
                reply_attr(fd, h->unique, h->nodeid);
                return false;
        case FUSE_OPEN:
        case FUSE_OPENDIR: {
                /* No FOPEN_DIRECT_IO, so a mapping of f goes through the page cache and its
                 * first fault sends READ; no FOPEN_KEEP_CACHE; no FOPEN_NOFLUSH either, as a
                 * real network file system: close() flushes, and waits for the inode's lock
                 * that a held WRITE keeps. */
                struct fuse_open_out out = {.fh = 1};
                reply(fd, h->unique, 0, &out, sizeof(out));
                return false;
        }
        case FUSE_READDIR:
                reply_readdir(fd, h->unique, (const void *)arg);
                return false;
        case FUSE_STATFS: {
                struct fuse_statfs_out out = {.st = {.blocks = 1024,
                                                     .bfree = 1024,
                                                     .bavail = 1024,
                                                     .files = 2,
                                                     .bsize = 4096,
                                                     .namelen = 255,
                                                     .frsize = 4096}};
                reply(fd, h->unique, 0, &out, sizeof(out));
                return false;
        }
        case FUSE_FLUSH:
                if (hold_flush)
                        return false; /* held: a close of f waits */
                reply(fd, h->unique, 0, NULL, 0);
                return false;
        case FUSE_RELEASE:
        case FUSE_RELEASEDIR:
        case FUSE_ACCESS:
                reply(fd, h->unique, 0, NULL, 0);
                return false;
        case FUSE_WRITE:
                if (answer_writes > 0) {
                        const struct fuse_write_in *in = (const void *)arg;
                        struct fuse_write_out out = {.size = in->size};
                        answer_writes--;
                        reply(fd, h->unique, 0, &out, sizeof(out));
                        return false;
                }
                return false; /* held: never answered */
        case FUSE_READ:
        case FUSE_FSYNC:
                return false; /* held: never answered */
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
                return false; /* these take no reply */
        default:
                /* GETXATTR and LISTXATTR included: ENOSYS, and the kernel stops asking.
                 * INTERRUPT (for a held request whose caller got a signal) too: ENOSYS tells
                 * the kernel that requests cannot be interrupted here; the request stays
                 * held. */
                reply(fd, h->unique, ENOSYS, NULL, 0);
                return false;
        }
}

static int serve(const char *dir)
{
        start_time = (uint64_t)time(NULL);
        trace = getenv("FUSEHANG_TRACE") != NULL;
        const char *answer = getenv("FUSEHANG_ANSWER_WRITES");
        answer_writes = answer ? strtol(answer, NULL, 10) : 0;
        hold_flush = getenv("FUSEHANG_HOLD_FLUSH") != NULL;
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        int sfd = signalfd(-1, &set, SFD_CLOEXEC);
        if (sfd < 0) {
                perror("fusehang: signalfd");
                return 1;
        }
        /* Non-blocking: a request that poll saw may be withdrawn before the read (its caller
         * was interrupted), and a blocking read would then miss SIGTERM. */
        int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                perror("fusehang: /dev/fuse");
                return EXIT_CANNOT;
        }
        char opts[128];
        snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
        /* Type "fuse": /proc/self/mountinfo names it so, as for any FUSE file system without
         * a subtype. */
        if (mount("fusehang", dir, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
                fprintf(stderr, "fusehang: mount on %s: %s\n", dir, strerror(errno));
                return EXIT_CANNOT;
        }
        static char buf[BUF_SIZE];
        int status = 0;
        for (;;) {
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("fusehang: poll");
                        status = 1;
                        break;
                }
                if (p[1].revents)
                        break;
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        /* ENOENT: the request went away before we read it. */
                        if (errno == EAGAIN || errno == EINTR || errno == ENOENT)
                                continue;
                        if (errno != ENODEV) { /* ENODEV: unmounted by somebody else */
                                perror("fusehang: read /dev/fuse");
                                status = 1;
                        }
                        break;
                }
                if (handle(fd, buf, (size_t)n) && write(STDOUT_FILENO, "ready\n", 6) != 6) {
                        status = 1;
                        break;
                }
        }
        /* Closing the only fd of the connection aborts it: every request in flight (the held
         * ones) ends with ENOTCONN, so nothing waits on this server once it is gone, and the
         * detach below cannot wait on it either. */
        close(fd);
        if (umount2(dir, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
                fprintf(stderr, "fusehang: umount %s: %s\n", dir, strerror(errno));
                status = 1;
        }
        close(sfd);
        return status;
}

/* The state letter of a task (R, S, D, ...) from /proc/PATH/stat, or 0. Plain open and read
 * into the stack: once a writer queues for the mmap_lock, anything that may grow the heap
 * (malloc, stdio) could block this thread too. */
/* Not inlined: its buffer must be where the read before the writer goes put it (hold). */
static char __attribute__((noinline)) task_state(const char *path)
{
        char buf[512];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        char *paren = strrchr(buf, ')');
        return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* The system call a blocked task is in (/proc/PID/syscall), or -1 when it runs or is not in
 * one. */
static long blocked_in(pid_t pid)
{
        char path[64], buf[256];
        snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        char *end;
        long nr = strtol(buf, &end, 10);
        return end == buf ? -1 : nr;
}

static _Atomic pid_t writer_tid;
static atomic_bool writer_done;
static int go[2]; /* the writer's signal to start */

/* Once told, queues for this process's mmap_lock for writing (an mmap takes it so), behind
 * the reader that never leaves. The thread exists before that reader: creating it takes the
 * lock for writing too (its stack is an mmap). */
static void *queue_writer(void *unused)
{
        atomic_store(&writer_tid, (pid_t)syscall(SYS_gettid));
        char c;
        if (read(go[0], &c, 1) != 1)
                return NULL;
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
                munmap(p, 4096);
        atomic_store(&writer_done, true);
        return NULL;
}

/* Touches stack pages below this frame, so that the main thread faults in none later (a
 * fault that had to grow the stack would take the mmap_lock and queue too). */
static void __attribute__((noinline)) touch_stack(void)
{
        volatile char pad[64 * 1024];
        for (size_t i = 0; i < sizeof(pad); i += 1024)
                pad[i] = 0;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
}

static int hold(const char *file)
{
        /* Everything mapped so far stays resident: on a busy machine a page of code evicted
         * and faulted in again later would queue for the lock behind the writer, and this
         * process would hang before it says its pid. (Before f is mapped: its page must
         * fault, and never be locked in.) */
        touch_stack();
        if (mlockall(MCL_CURRENT) < 0)
                perror("fusehang: mlockall (going on)");
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "fusehang: %s: %s\n", file, strerror(errno));
                return 1;
        }
        void *page = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        if (page == MAP_FAILED) {
                perror("fusehang: mmap");
                return 1;
        }
        pthread_t thread;
        if (pipe2(go, O_CLOEXEC) < 0 || pthread_create(&thread, NULL, queue_writer, NULL) != 0) {
                fprintf(stderr, "fusehang: cannot start the writer thread\n");
                return 1;
        }
        touch_stack();
        pid_t parent = getpid();
        pid_t child = fork();
        if (child < 0) {
                perror("fusehang: fork");
                return 1;
        }
        if (child == 0) {
                /* Reading the parent's page through /proc/PID/mem faults it in the parent's
                 * mm: the kernel takes that mm's mmap_lock for reading and keeps it through
                 * the fault (a remote access cannot drop it and retry), and the fault waits
                 * for a READ that is never answered. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                char path[64], c;
                snprintf(path, sizeof(path), "/proc/%d/mem", (int)parent);
                int mem = open(path, O_RDONLY | O_CLOEXEC);
                if (mem < 0)
                        _exit(2);
                _exit(pread(mem, &c, 1, (off_t)(uintptr_t)page) == 1 ? 0 : 3);
        }
        /* The child must be waiting in its pread (in the fault), and still be after a
         * while: not a passing sleep on the way. */
        int stable = 0;
        for (int i = 0; i < 500 && stable < 10; i++) {
                sleep_ms(10);
                stable = blocked_in(child) == SYS_pread64 ? stable + 1 : 0;
        }
        if (stable < 10) {
                fprintf(stderr,
                        "fusehang: the reader of /proc/%d/mem does not wait in the "
                        "page fault\n",
                        (int)parent);
                kill(child, SIGKILL);
                return EXIT_CANNOT;
        }
        /* From here on, no malloc and no stdio: a heap that grows queues for the lock. Nor a
         * first write to a page since the fork: that copy-on-write fault would queue too, so
         * the stack this frame and its callees use is written once more now. The writer must
         * wait (D: a killable sleep on the lock), and not be done. */
        char path[64];
        memset(path, 0, sizeof(path));
        touch_stack();
        /* A read into task_state's buffer: the kernel writes that page itself, and a page
         * not written since the fork would fault there behind the writer (a loaded machine
         * hung so: the writer reached the lock before the first look at it). */
        task_state("/proc/self/stat");
        if (write(go[1], "g", 1) != 1)
                return 1;
        stable = 0;
        for (int i = 0; i < 500 && stable < 20 && !atomic_load(&writer_done); i++) {
                sleep_ms(10);
                pid_t tid = atomic_load(&writer_tid);
                if (tid <= 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
                stable = task_state(path) == 'D' ? stable + 1 : 0;
        }
        if (stable < 20 || atomic_load(&writer_done)) {
                static const char msg[] = "fusehang: an mmap does not wait for the mmap_lock\n";
                if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
                        /* nothing more to say */
                }
                kill(child, SIGKILL);
                return EXIT_CANNOT;
        }
        char line[32];
        int len = snprintf(line, sizeof(line), "%d\n", (int)parent);
        if (write(STDOUT_FILENO, line, (size_t)len) != len)
                return 1;
        for (;;)
                pause();
}

int main(int argc, char **argv)
{
        if (argc == 3 && strcmp(argv[1], "serve") == 0)
                return serve(argv[2]);
        if (argc == 3 && strcmp(argv[1], "hold") == 0)
                return hold(argv[2]);
        fprintf(stderr, "usage: fusehang serve DIR | fusehang hold FILE\n");
        return 2;
}
