/* Tests for common/procfs.c on a fake /proc and cgroup tree: the file and key readers, the
 * cgroup lookup (v1 and v2), the OOM kill counts, a zombie's exit status, a process's uid and
 * a pidfd's pid, the mount table; then how a process ended, put together the way mttd's peer
 * and mttctl run do it. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/procfs.h"
#include "proto/ending.h"

static char root[64], proc[96], cg[96];

/* Writes text to ROOT/rel, making its directories. */
static void put(const char *rel, const char *text)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                mkdir(path, 0755);
                *p = '/';
        }
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* A /proc/PID/stat line: pid, command, state, then fields 4 to 51 as 0 and, unless
 * exit_code is below 0, field 52. */
static void put_stat(int pid, const char *comm, char state, int exit_code)
{
        char rel[64], text[512];
        int n = snprintf(text, sizeof(text), "%d (%s) %c", pid, comm, state);
        for (int field = 4; field <= 51; field++)
                n += snprintf(text + n, sizeof(text) - (size_t)n, " %d", field == 4 ? 1 : 0);
        if (exit_code >= 0)
                n += snprintf(text + n, sizeof(text) - (size_t)n, " %d", exit_code);
        snprintf(text + n, sizeof(text) - (size_t)n, "\n");
        snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
        put(rel, text);
}

static const char *vmstat(long long oom_kill)
{
        static char text[256];
        snprintf(text, sizeof(text),
                 "nr_free_pages 1000\noom_kill_disable_fake 99\npgfault 12\noom_kill %lld\n"
                 "thp_fault_alloc 0\n",
                 oom_kill);
        return text;
}

static const char *memory_events(long long oom_kill)
{
        static char text[256];
        snprintf(text, sizeof(text),
                 "low 0\nhigh 0\nmax 4\noom 2\noom_kill %lld\noom_group_kill 0\n", oom_kill);
        return text;
}

static const char *oom_control(long long oom_kill)
{
        static char text[256];
        /* oom_kill_disable comes first, and is not the count. */
        snprintf(text, sizeof(text), "oom_kill_disable 1\nunder_oom 0\noom_kill %lld\n", oom_kill);
        return text;
}

static int setup(void **state)
{
        snprintf(root, sizeof(root), "/tmp/mtt-procfs-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        snprintf(proc, sizeof(proc), "%s/proc", root);
        snprintf(cg, sizeof(cg), "%s/cg", root);
        put("proc/vmstat", vmstat(7));
        /* 42: v2. 43: v1's memory controller, a path with ':' in it. 45: no memory cgroup. */
        put("proc/42/cgroup", "0::/user.slice/a.scope\n");
        put("cg/user.slice/a.scope/memory.events", memory_events(1));
        put("cg/user.slice/a.scope/memory.current", "4096000\n");
        put("proc/43/cgroup", "12:cpu:/x\n4:memory:/a:b\n0::/u\n");
        put("cg/memory/a:b/memory.oom_control", oom_control(0));
        put("proc/45/cgroup", "1:name=systemd:/x\n");
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        return system(cmd);
}

static void test_value_after_key(void **state)
{
        long long v = 0;
        assert_int_equal(mtt_procfs_value(oom_control(5), "oom_kill", &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(mtt_procfs_value(oom_control(5), "oom_kill_disable", &v), 0);
        assert_int_equal(v, 1);
        assert_int_equal(mtt_procfs_value("Name:\tx\nUid:\t1000\t1001\t0\t0\n", "Uid:", &v), 0);
        assert_int_equal(v, 1000);
        assert_int_equal(mtt_procfs_value("Pid:\t-1\nNSpid:\t-1\n", "Pid:", &v), 0);
        assert_int_equal(v, -1);
        /* Only at the start of a line, and only the whole key. */
        v = 77;
        assert_int_equal(mtt_procfs_value("NSpid:\t3\n", "Pid:", &v), -ENODATA);
        assert_int_equal(mtt_procfs_value("oom_kill_disable 0\n", "oom_kill", &v), -ENODATA);
        assert_int_equal(mtt_procfs_value("x oom_kill 3\n", "oom_kill", &v), -ENODATA);
        assert_int_equal(mtt_procfs_value("", "oom_kill", &v), -ENODATA);
        assert_int_equal(mtt_procfs_value("oom_kill many\n", "oom_kill", &v), -EINVAL);
        assert_int_equal(v, 77); /* untouched on failure */
        /* The last line needs no newline. */
        assert_int_equal(mtt_procfs_value("a 1\nb 2", "b", &v), 0);
        assert_int_equal(v, 2);
}

static void test_whole_files(void **state)
{
        char path[256], buf[8];
        snprintf(path, sizeof(path), "%s/seven", root);
        put("seven", "1234567");
        assert_int_equal(mtt_procfs_read(path, buf, sizeof(buf)), 0); /* just fits */
        assert_string_equal(buf, "1234567");
        put("seven", "12345678");
        assert_int_equal(mtt_procfs_read(path, buf, sizeof(buf)), -EFBIG);
        assert_string_equal(buf, "1234567");
        snprintf(path, sizeof(path), "%s/none", root);
        assert_int_equal(mtt_procfs_read(path, buf, sizeof(buf)), -ENOENT);

        /* Longer than the first buffer, by a byte at each doubling's edge: none is lost. */
        char *big = malloc(8194), *back = NULL;
        for (size_t i = 0; i < 8193; i++)
                big[i] = (char)('a' + i % 23);
        big[8193] = '\0';
        put("big", big);
        snprintf(path, sizeof(path), "%s/big", root);
        size_t len = 0;
        assert_int_equal(mtt_procfs_read_alloc(path, &back, &len), 0);
        assert_int_equal(len, 8193);
        assert_string_equal(back, big);
        free(back);
        free(big);
        put("empty", "");
        snprintf(path, sizeof(path), "%s/empty", root);
        assert_int_equal(mtt_procfs_read_alloc(path, &back, &len), 0);
        assert_int_equal(len, 0);
        assert_string_equal(back, "");
        free(back);

        long long v = 0;
        snprintf(path, sizeof(path), "%s/user.slice/a.scope/memory.current", cg);
        assert_int_equal(mtt_procfs_read_number(path, &v), 0);
        assert_int_equal(v, 4096000);
        snprintf(path, sizeof(path), "%s/empty", root);
        assert_int_equal(mtt_procfs_read_number(path, &v), -EINVAL);
        snprintf(path, sizeof(path), "%s/vmstat", proc);
        assert_int_equal(mtt_procfs_read_value(path, "oom_kill", &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(mtt_procfs_read_value(path, "pgfault", &v), 0);
        assert_int_equal(v, 12);
}

static void test_cgroup_lines(void **state)
{
        char out[4096];
        bool v1 = true;
        assert_int_equal(mtt_procfs_cgroup_parse("0::/user.slice/a.scope\n", out, sizeof(out), &v1),
                         0);
        assert_string_equal(out, "/user.slice/a.scope");
        assert_false(v1);
        /* v1's memory controller wins where it is mounted; a path may hold ':'. */
        assert_int_equal(
            mtt_procfs_cgroup_parse("12:cpu:/x\n4:memory:/a:b\n0::/u\n", out, sizeof(out), &v1), 0);
        assert_string_equal(out, "/a:b");
        assert_true(v1);
        assert_int_equal(mtt_procfs_cgroup_parse("1:name=systemd:/x\n", out, sizeof(out), &v1),
                         -ENOENT);
        /* A line longer than any fixed buffer is one line: its tail (here cut at 1023 bytes,
         * where a 1024-byte fgets cut it) is no line of its own. */
        char *text = malloc(3000);
        strcpy(text, "0::/");
        memset(text + 4, 'a', 1019);
        strcpy(text + 1023, "4:memory:/evil\n");
        v1 = true;
        assert_int_equal(mtt_procfs_cgroup_parse(text, out, sizeof(out), &v1), 0);
        assert_false(v1);
        assert_int_equal(strlen(out), 1 + 1019 + strlen("4:memory:/evil"));
        assert_int_equal(mtt_procfs_cgroup_parse(text, out, 100, &v1), -ENAMETOOLONG);
        free(text);
}

static void test_cgroup_dir(void **state)
{
        char dir[512], want[512];
        bool v1 = true;
        assert_int_equal(mtt_procfs_cgroup_dir(proc, cg, 42, dir, sizeof(dir), &v1), 0);
        snprintf(want, sizeof(want), "%s/user.slice/a.scope", cg);
        assert_string_equal(dir, want);
        assert_false(v1);
        assert_int_equal(mtt_procfs_cgroup_dir(proc, cg, 43, dir, sizeof(dir), &v1), 0);
        snprintf(want, sizeof(want), "%s/memory/a:b", cg);
        assert_string_equal(dir, want);
        assert_true(v1);
        assert_int_equal(mtt_procfs_cgroup_dir(proc, cg, 45, dir, sizeof(dir), &v1), -ENOENT);
        assert_int_equal(mtt_procfs_cgroup_dir(proc, cg, 44, dir, sizeof(dir), &v1), -ENOENT);
        assert_int_equal(mtt_procfs_cgroup_dir(proc, cg, 42, dir, strlen(cg) + 5, &v1),
                         -ENAMETOOLONG);
}

static void test_oom_counts_v2(void **state)
{
        mtt_procfs_oom_counts before, now;
        char want[512];
        assert_int_equal(mtt_procfs_oom_counts_of(proc, cg, 42, &before), 0);
        snprintf(want, sizeof(want), "%s/user.slice/a.scope/memory.events", cg);
        assert_string_equal(before.cgroup_file, want);
        assert_int_equal(before.cgroup, 1);
        assert_true(before.system < 0); /* the caller's to read */
        before.system = mtt_procfs_oom_system(proc);
        assert_int_equal(before.system, 7);

        assert_int_equal(mtt_procfs_oom_counts_again(proc, &before, &now), 0);
        assert_int_equal(now.cgroup, 1);
        assert_int_equal(now.system, 7);
        assert_false(mtt_procfs_oom_killed(&before, &now));

        put("cg/user.slice/a.scope/memory.events", memory_events(2));
        assert_int_equal(mtt_procfs_oom_counts_again(proc, &before, &now), 0);
        assert_int_equal(now.cgroup, 2);
        assert_true(mtt_procfs_oom_killed(&before, &now));
        put("cg/user.slice/a.scope/memory.events", memory_events(1));
}

static void test_oom_counts_v1_and_system(void **state)
{
        mtt_procfs_oom_counts before, now;
        assert_int_equal(mtt_procfs_oom_counts_of(proc, cg, 43, &before), 0);
        assert_non_null(strstr(before.cgroup_file, "/memory/a:b/memory.oom_control"));
        assert_int_equal(before.cgroup, 0); /* not oom_kill_disable's 1 */
        before.system = mtt_procfs_oom_system(proc);
        assert_int_equal(before.system, 7);

        /* The process moved to a cgroup of its own: only the system's count moves. */
        put("proc/vmstat", vmstat(8));
        now = before; /* again in place, as it may be */
        assert_int_equal(mtt_procfs_oom_counts_again(proc, &now, &now), 0);
        assert_int_equal(now.cgroup, 0);
        assert_int_equal(now.system, 8);
        assert_true(mtt_procfs_oom_killed(&before, &now));
        put("proc/vmstat", vmstat(7));
}

static void test_oom_counts_unknown(void **state)
{
        mtt_procfs_oom_counts before, now;
        /* No memory cgroup, then no such process: nothing to read again. */
        assert_int_equal(mtt_procfs_oom_counts_of(proc, cg, 45, &before), -ENOENT);
        assert_string_equal(before.cgroup_file, "");
        assert_true(before.cgroup < 0);
        assert_int_equal(mtt_procfs_oom_counts_of(proc, cg, 44, &before), -ENOENT);
        assert_true(before.cgroup < 0);
        assert_true(mtt_procfs_oom_counts_again(proc, &before, &now) < 0);
        assert_true(now.cgroup < 0);
        assert_int_equal(now.system, 7);
        /* A count unknown before tells nothing, whatever it is after. */
        assert_false(mtt_procfs_oom_killed(&before, &now));
        mtt_procfs_oom_counts unknown = {.cgroup = -EACCES, .system = -ENOENT},
                              known = {.cgroup = 0, .system = 0};
        assert_false(mtt_procfs_oom_killed(&unknown, &known));
        assert_true(mtt_procfs_oom_killed(&known, &(mtt_procfs_oom_counts){.cgroup = 1}));
        assert_true(mtt_procfs_oom_killed(&known, &(mtt_procfs_oom_counts){.system = 1}));
        /* No vmstat at all. */
        char empty[128];
        snprintf(empty, sizeof(empty), "%s/nothing", root);
        assert_int_equal(mtt_procfs_oom_system(empty), -ENOENT);
}

static void test_stat_lines(void **state)
{
        mtt_procfs_stat s;
        assert_int_equal(mtt_procfs_stat_parse("7 (a) Z 1 2 3\n", &s), 0);
        assert_int_equal(s.state, 'Z');
        assert_false(s.have_exit_code);
        assert_int_equal(mtt_procfs_stat_parse("7 (a\n", &s), -EINVAL);
        assert_int_equal(mtt_procfs_stat_parse("", &s), -EINVAL);
        assert_int_equal(mtt_procfs_stat_parse("7 (a) \n", &s), -EINVAL);
}

static void test_zombie_status(void **state)
{
        char path[256];
        struct stat st;
        int status = -1;
        /* A command that looks like the end of its field: fields count from the last ')'. */
        put_stat(50, "x) R 1 (y", 'Z', 9);
        snprintf(path, sizeof(path), "%s/50/stat", proc);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(mtt_procfs_zombie_status(proc, 50, st.st_uid, &status), 0);
        assert_int_equal(status, 9);
        status = -1;
        assert_int_equal(mtt_procfs_zombie_status(proc, 50, 0, &status), 0); /* root */
        assert_int_equal(status, 9);
        /* Another user's zombie shows 0: not yet, PIDFD_GET_INFO has it once reaped. */
        assert_int_equal(mtt_procfs_zombie_status(proc, 50, st.st_uid + 1, &status), -EAGAIN);
        put_stat(51, "b", 'X', 0); /* being reaped */
        assert_int_equal(mtt_procfs_zombie_status(proc, 51, st.st_uid, &status), -EAGAIN);
        put_stat(52, "c", 'S', 0); /* reaped, the pid taken again */
        assert_int_equal(mtt_procfs_zombie_status(proc, 52, st.st_uid, &status), -ESRCH);
        put_stat(53, "d", 'Z', -1); /* a kernel before 3.5 */
        assert_int_equal(mtt_procfs_zombie_status(proc, 53, st.st_uid, &status), -ESRCH);
        assert_int_equal(mtt_procfs_zombie_status(proc, 54, st.st_uid, &status), -ESRCH);
}

static void test_uid_and_pidfd_pid(void **state)
{
        put("proc/60/status", "Name:\tx\nState:\tS (sleeping)\nTgid:\t60\nPid:\t60\nPPid:\t1\n"
                              "Uid:\t1000\t1001\t1002\t1003\nGid:\t5\t5\t5\t5\n");
        put("proc/61/status", "Name:\tx\nPid:\t61\n");
        uid_t u = 0;
        assert_int_equal(mtt_procfs_ruid_of(proc, 60, &u), 0);
        assert_int_equal(u, 1000);
        assert_int_equal(mtt_procfs_ruid_of(proc, 61, &u), -ENODATA);
        assert_int_equal(mtt_procfs_ruid_of(proc, 62, &u), -ENOENT);

        put("proc/self/fdinfo/7",
            "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t60\nNSpid:\t60\n");
        put("proc/self/fdinfo/8", "pos:\t0\nflags:\t02000002\nPid:\t-1\nNSpid:\t-1\n");
        pid_t p = 0;
        assert_int_equal(mtt_procfs_pidfd_pid(proc, 7, &p), 0);
        assert_int_equal(p, 60);
        assert_int_equal(mtt_procfs_pidfd_pid(proc, 8, &p), -ESRCH); /* ended */
        assert_int_equal(mtt_procfs_pidfd_pid(proc, 9, &p), -ENOENT);
        assert_int_equal(p, 60);
}

static void test_mounts(void **state)
{
        /* 50 and 22 share a device: a copy of 22 in another namespace would too. */
        const char *text = "50 1 8:1 /sub /bind rw - btrfs /dev/sda1 rw\n"
                           "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                           "30 22 0:40 / /mnt/a\\040-\\040b rw shared:7 - nfs4 srv:/x rw\n"
                           "31 22 0:41 / /long rw - averyveryverylongtypename x rw\n"
                           "no numbers - here\n";
        char type[16] = "";
        assert_int_equal(mtt_procfs_mountinfo_type(text, 30, makedev(9, 9), type, sizeof(type)), 0);
        assert_string_equal(type, "nfs4");
        /* The mount itself wins over one seen before on the same device. */
        assert_int_equal(mtt_procfs_mountinfo_type(text, 22, makedev(8, 1), type, sizeof(type)), 0);
        assert_string_equal(type, "ext4");
        /* Not there by id: the first of its device. */
        assert_int_equal(mtt_procfs_mountinfo_type(text, 99, makedev(8, 1), type, sizeof(type)), 0);
        assert_string_equal(type, "btrfs");
        assert_int_equal(mtt_procfs_mountinfo_type(text, 99, makedev(0, 40), type, sizeof(type)),
                         0);
        assert_string_equal(type, "nfs4");
        assert_int_equal(mtt_procfs_mountinfo_type(text, 99, makedev(9, 9), type, sizeof(type)),
                         -ENOENT);
        assert_int_equal(mtt_procfs_mountinfo_type(text, 31, makedev(9, 9), type, sizeof(type)),
                         -ENOENT); /* does not fit */

        put("proc/self/mountinfo", text);
        assert_int_equal(mtt_procfs_mount_type(proc, 30, makedev(9, 9), type, sizeof(type)), 0);
        assert_string_equal(type, "nfs4");
        char none[128];
        snprintf(none, sizeof(none), "%s/nothing", root);
        assert_int_equal(mtt_procfs_mount_type(none, 30, makedev(9, 9), type, sizeof(type)),
                         -ENOENT);

        put("proc/self/mounts", "/dev/sda1 / ext4 rw 0 0\n");
        int fd = mtt_procfs_mounts_open(proc);
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        assert_int_equal(mtt_procfs_mounts_open(none), -ENOENT);
}

/* A client's end as mttd's peer words it: the zombie's status, and whether the OOM killer
 * sent its SIGKILL (the cgroup's count at Open against the one after the end). */
static void peer_cause(pid_t pid, const mtt_procfs_oom_counts *at_open, char *cause, size_t size)
{
        struct stat st;
        char path[256];
        snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid);
        assert_int_equal(stat(path, &st), 0);
        int status;
        assert_int_equal(mtt_procfs_zombie_status(proc, pid, st.st_uid, &status), 0);
        mtt_procfs_oom_counts now;
        mtt_procfs_oom_counts_again(proc, at_open, &now);
        mtt_proto_describe_exit(status, mtt_procfs_oom_killed(at_open, &now), cause, size);
}

static void test_causes(void **state)
{
        char cause[160];
        mtt_procfs_oom_counts at_open;
        mtt_procfs_oom_counts_of(proc, cg, 42, &at_open);
        at_open.system = mtt_procfs_oom_system(proc); /* the tracker's, before the hangup */

        put_stat(70, "client", 'Z', SIGKILL); /* killed, no OOM kill counted */
        peer_cause(70, &at_open, cause, sizeof(cause));
        assert_string_equal(cause, "killed by SIGKILL");

        put("cg/user.slice/a.scope/memory.events", memory_events(2));
        peer_cause(70, &at_open, cause, sizeof(cause));
        assert_string_equal(cause, "killed by SIGKILL (OOM killer)");

        /* A count that moved says nothing of an exit, nor of another signal. */
        put_stat(71, "client", 'Z', 3 << 8);
        peer_cause(71, &at_open, cause, sizeof(cause));
        assert_string_equal(cause, "exited with status 3");
        put_stat(72, "client", 'Z', SIGSEGV | 0x80);
        peer_cause(72, &at_open, cause, sizeof(cause));
        assert_string_equal(cause, "killed by SIGSEGV (core dumped)");
        put("cg/user.slice/a.scope/memory.events", memory_events(1));

        /* mttctl run: its own cgroup (v1 here) and the system's count, read again while the
         * child runs; the kill shows in the system's count alone. */
        mtt_procfs_oom_counts before, after;
        mtt_procfs_oom_counts_of(proc, cg, 43, &before);
        before.system = mtt_procfs_oom_system(proc);
        put("proc/vmstat", vmstat(9));
        mtt_procfs_oom_counts_again(proc, &before, &after);
        mtt_proto_describe_exit(SIGKILL, mtt_procfs_oom_killed(&before, &after), cause,
                                sizeof(cause));
        assert_string_equal(cause, "killed by SIGKILL (OOM killer)");
        put("proc/vmstat", vmstat(7));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_value_after_key),
            cmocka_unit_test(test_whole_files),
            cmocka_unit_test(test_cgroup_lines),
            cmocka_unit_test(test_cgroup_dir),
            cmocka_unit_test(test_oom_counts_v2),
            cmocka_unit_test(test_oom_counts_v1_and_system),
            cmocka_unit_test(test_oom_counts_unknown),
            cmocka_unit_test(test_stat_lines),
            cmocka_unit_test(test_zombie_status),
            cmocka_unit_test(test_uid_and_pidfd_pid),
            cmocka_unit_test(test_mounts),
            cmocka_unit_test(test_causes),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
