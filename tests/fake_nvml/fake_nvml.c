/* A fake libnvidia-ml.so.1 for the tests (mttd --nvml): the NVML functions mttd calls, with
 * their versioned names and C signatures, answering from a text file that the test writes.
 *
 * The file is named by $FAKE_NVML_STATE and read again at every call, so a test changes
 * the values while mttd runs. One thing a line; '#' starts a comment line:
 *   device INDEX "NAME" total BYTES used BYTES   a GPU (indices 0, 1, ... in order)
 *   process INDEX PID BYTES                      a compute process on that GPU (BYTES "na":
 *                                                NVML_VALUE_NOT_AVAILABLE, as under MIG)
 *   graphics INDEX PID BYTES                     a graphics process on that GPU (the same)
 *   lost INDEX                                   that GPU answers NVML_ERROR_GPU_IS_LOST
 *   fail init CODE                               nvmlInit_v2 returns CODE
 *   slow init MS                                 nvmlInit_v2 takes MS milliseconds
 *   slow read MS                                 each memory read takes MS milliseconds
 *   fail graphics CODE                           the graphics lists return CODE
 *   slow shutdown MS                             nvmlShutdown takes MS milliseconds
 *   stack init KB                                nvmlInit_v2 uses KB KiB of its thread's
 *                                                stack (a driver's init may use much)
 *   leak fd                                      nvmlInit_v2 opens $FAKE_NVML_STATE.leak
 *                                                without O_CLOEXEC and never closes it (a
 *                                                driver's device node, say; a file apart
 *                                                from the state, which every call reads)
 * No file (or no variable): no device. With $FAKE_NVML_READS set, that file counts the
 * memory reads of GPU 0 (one a read of mttd's), so a test waits for reads it needs. */
#include <alloca.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAKE_MAX_DEVICES   16
#define FAKE_MAX_PROCESSES 256

#define NVML_SUCCESS                    0
#define NVML_ERROR_INVALID_ARGUMENT     2
#define NVML_ERROR_INSUFFICIENT_SIZE    7
#define NVML_ERROR_GPU_IS_LOST          15
#define NVML_ERROR_UNINITIALIZED        1
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_VALUE_NOT_AVAILABLE        (~0ull)

typedef int nvmlReturn_t;
/* A device handle is its index + 1, so a NULL handle is never a device. */
typedef struct fake_device *nvmlDevice_t;
typedef struct {
        unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
        unsigned int pid;
        unsigned long long usedGpuMemory;
        unsigned int gpuInstanceId;
        unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
        unsigned index, pid;
        unsigned long long bytes;
        int graphics;
} fake_process;

typedef struct {
        int init_code;
        int graphics_code;
        int stack_init_kb;
        int slow_shutdown_ms;
        int leak_fd;
        int slow_init_ms, slow_read_ms;
        unsigned devices;
        struct {
                char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
                unsigned long long total, used;
                int lost;
        } dev[FAKE_MAX_DEVICES];
        unsigned processes;
        fake_process proc[FAKE_MAX_PROCESSES];
} fake_state;

static void read_state(fake_state *s)
{
        memset(s, 0, sizeof(*s));
        const char *path = getenv("FAKE_NVML_STATE");
        FILE *f = path ? fopen(path, "re") : NULL;
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
                unsigned i, pid;
                unsigned long long a, b;
                char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE], word[32];
                int code;
                if (sscanf(line, "device %u \"%95[^\"]\" total %llu used %llu", &i, name, &a, &b) ==
                        4 &&
                    i < FAKE_MAX_DEVICES) {
                        snprintf(s->dev[i].name, sizeof(s->dev[i].name), "%s", name);
                        s->dev[i].total = a;
                        s->dev[i].used = b;
                        if (i + 1 > s->devices)
                                s->devices = i + 1;
                } else if ((sscanf(line, "process %u %u %31s", &i, &pid, word) == 3 ||
                            sscanf(line, "graphics %u %u %31s", &i, &pid, word) == 3) &&
                           s->processes < FAKE_MAX_PROCESSES) {
                        a = strcmp(word, "na") == 0 ? NVML_VALUE_NOT_AVAILABLE
                                                    : strtoull(word, NULL, 10);
                        s->proc[s->processes++] = (fake_process){
                            .index = i, .pid = pid, .bytes = a, .graphics = line[0] == 'g'};
                } else if (sscanf(line, "lost %u", &i) == 1 && i < FAKE_MAX_DEVICES) {
                        s->dev[i].lost = 1;
                } else if (sscanf(line, "fail graphics %d", &code) == 1) {
                        s->graphics_code = code;
                } else if (sscanf(line, "slow shutdown %d", &code) == 1) {
                        s->slow_shutdown_ms = code;
                } else if (sscanf(line, "stack init %d", &code) == 1) {
                        s->stack_init_kb = code;
                } else if (strncmp(line, "leak fd", 7) == 0) {
                        s->leak_fd = 1;
                } else if (sscanf(line, "fail init %d", &code) == 1) {
                        s->init_code = code;
                } else if (sscanf(line, "slow init %d", &code) == 1) {
                        s->slow_init_ms = code;
                } else if (sscanf(line, "slow read %d", &code) == 1) {
                        s->slow_read_ms = code;
                }
        }
        if (f)
                fclose(f);
}

/* The state now and the device of a handle in it, or -1 with *r set. */
static int device_of(fake_state *s, nvmlDevice_t d, nvmlReturn_t *r)
{
        read_state(s);
        *r = NVML_SUCCESS;
        size_t i = (size_t)d;
        if (i == 0 || i > s->devices) {
                *r = NVML_ERROR_INVALID_ARGUMENT;
                return -1;
        }
        if (s->dev[i - 1].lost) {
                *r = NVML_ERROR_GPU_IS_LOST;
                return -1;
        }
        return (int)(i - 1);
}

static void sleep_ms(int ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
        while (ms > 0 && nanosleep(&ts, &ts) != 0)
                ;
}

/* One more read of GPU 0, counted in $FAKE_NVML_READS. */
static void count_read(void)
{
        static unsigned long long reads;
        const char *path = getenv("FAKE_NVML_READS");
        char tmp[4096];
        if (!path || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
                return;
        /* Written aside, then renamed: a test reading it never sees it empty (0 reads). */
        FILE *f = fopen(tmp, "we");
        if (f) {
                fprintf(f, "%llu\n", ++reads);
                if (fclose(f) == 0)
                        rename(tmp, path);
        }
}

nvmlReturn_t nvmlInit_v2(void)
{
        fake_state s;
        read_state(&s);
        sleep_ms(s.slow_init_ms);
        if (s.stack_init_kb > 0) {
                size_t n = (size_t)s.stack_init_kb * 1024;
                volatile char *deep = alloca(n);
                for (size_t i = 0; i < n; i += 512)
                        deep[i] = (char)i;
        }
        char leak[4096];
        if (s.leak_fd && s.init_code == NVML_SUCCESS &&
            snprintf(leak, sizeof(leak), "%s.leak", getenv("FAKE_NVML_STATE")) < (int)sizeof(leak))
                open(leak, O_RDONLY | O_CREAT, 0644); /* no O_CLOEXEC: on purpose */
        return s.init_code;
}

nvmlReturn_t nvmlShutdown(void)
{
        fake_state s;
        read_state(&s);
        sleep_ms(s.slow_shutdown_ms);
        return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t r)
{
        switch (r) {
        case NVML_SUCCESS:
                return "Success";
        case NVML_ERROR_UNINITIALIZED:
                return "Uninitialized";
        case NVML_ERROR_INVALID_ARGUMENT:
                return "Invalid Argument";
        case NVML_ERROR_INSUFFICIENT_SIZE:
                return "Insufficient Size";
        case 9:
                return "Driver Not Loaded";
        case NVML_ERROR_GPU_IS_LOST:
                return "GPU is lost";
        default:
                return "Unknown Error";
        }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
        fake_state s;
        read_state(&s);
        *count = s.devices;
        return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
        fake_state s;
        read_state(&s);
        if (index >= s.devices)
                return NVML_ERROR_INVALID_ARGUMENT;
        *device = (nvmlDevice_t)(size_t)(index + 1);
        return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
        fake_state s;
        nvmlReturn_t r;
        int i = device_of(&s, device, &r);
        if (i < 0)
                return r;
        if (strlen(s.dev[i].name) >= length)
                return NVML_ERROR_INSUFFICIENT_SIZE;
        strcpy(name, s.dev[i].name);
        return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
        fake_state s;
        nvmlReturn_t r;
        int i = device_of(&s, device, &r);
        if (i < 0)
                return r;
        sleep_ms(s.slow_read_ms);
        if (i == 0)
                count_read();
        memory->total = s.dev[i].total;
        memory->used = s.dev[i].used;
        memory->free = s.dev[i].total - s.dev[i].used;
        return NVML_SUCCESS;
}

/* NVML's protocol: with too small a buffer, the count needed and INSUFFICIENT_SIZE. */
static nvmlReturn_t processes(nvmlDevice_t device, unsigned int *count, nvmlProcessInfo_t *infos,
                              int graphics)
{
        fake_state s;
        nvmlReturn_t r;
        int i = device_of(&s, device, &r);
        if (i < 0)
                return r;
        if (graphics && s.graphics_code)
                return s.graphics_code;
        unsigned n = 0;
        for (unsigned k = 0; k < s.processes; k++)
                if (s.proc[k].index == (unsigned)i && s.proc[k].graphics == graphics) {
                        if (n < *count)
                                infos[n] = (nvmlProcessInfo_t){.pid = s.proc[k].pid,
                                                               .usedGpuMemory = s.proc[k].bytes};
                        n++;
                }
        r = n > *count ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
        *count = n;
        return r;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                                     nvmlProcessInfo_t *infos)
{
        return processes(device, count, infos, 0);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                                      nvmlProcessInfo_t *infos)
{
        return processes(device, count, infos, 1);
}
