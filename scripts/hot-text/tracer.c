// hot-text tracer: runs a command under ptrace, single-stepping it and every process it forks,
// and marks in a bitmap each byte of BIN's file at which an instruction was executed (while a
// process runs BIN's code). The bitmap (one byte per byte of BIN) is OR-ed into OUT, so several
// commands add up in one file. A process that executes another program is let go.
//
// Single-stepping is slow (tens of microseconds a step in a VM), but exact: every function the
// command runs is seen, however briefly. gen.py turns the bitmap into hull's hot-text list.
//
// usage: tracer BIN OUT command [args...]     (exit status: the command's)
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

struct proc {
    pid_t pid;
    int known;                    // maps read since the last exec
    unsigned long lo, hi, off;    // BIN's executable mapping, [lo, hi) at file offset off
};
static struct proc procs[4096];
static int nprocs;
static unsigned long bin_ino, bin_dev;

static struct proc *proc_of(pid_t pid) {
    for (int i = 0; i < nprocs; i++)
        if (procs[i].pid == pid) return &procs[i];
    for (int i = 0; i < nprocs; i++)
        if (procs[i].pid == 0) { procs[i] = (struct proc){ .pid = pid }; return &procs[i]; }
    if (nprocs == (int)(sizeof procs / sizeof procs[0])) { fprintf(stderr, "tracer: too many processes\n"); exit(2); }
    procs[nprocs] = (struct proc){ .pid = pid };
    return &procs[nprocs++];
}

static void read_maps(struct proc *p) {
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/maps", p->pid);
    p->known = 1;
    p->lo = p->hi = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, ino;
        unsigned maj, min;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perm, &off, &maj, &min, &ino) == 7 && ino == bin_ino &&
            makedev(maj, min) == bin_dev && perm[2] == 'x') {
            p->lo = lo, p->hi = hi, p->off = off;
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: tracer BIN OUT command [args...]\n"); return 2; }
    struct stat st;
    if (stat(argv[1], &st)) { perror(argv[1]); return 2; }
    bin_ino = st.st_ino, bin_dev = st.st_dev;
    size_t size = st.st_size;
    unsigned char *bitmap = calloc(size, 1);
    if (!bitmap) { perror("calloc"); return 2; }
    FILE *f = fopen(argv[2], "r");
    if (f) {
        if (fread(bitmap, 1, size, f) != size) memset(bitmap, 0, size);
        fclose(f);
    }
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 2; }
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execvp(argv[3], argv + 3);
        _exit(127);
    }
    int status, rc = 0;
    waitpid(child, &status, 0);
    ptrace(PTRACE_SETOPTIONS, child, 0,
           PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
    proc_of(child);
    ptrace(PTRACE_SINGLESTEP, child, 0, 0);
    unsigned long steps = 0;
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) {
            if (errno == EINTR) continue;
            if (errno != ECHILD) perror("waitpid");
            break;
        }
        struct proc *p = proc_of(pid);
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == child) rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            p->pid = 0;
            continue;
        }
        if (!WIFSTOPPED(status)) continue;
        int sig = WSTOPSIG(status), event = status >> 16, deliver = 0;
        if (event == PTRACE_EVENT_EXEC) {
            read_maps(p);
            if (!p->hi) {  // another program: not ours to trace
                ptrace(PTRACE_DETACH, pid, 0, 0);
                p->pid = 0;
                continue;
            }
        } else if (event) {
            // fork/clone: the new process reports its own first stop
        } else if (sig == SIGTRAP) {
            if (!p->known) read_maps(p);
            long ip = ptrace(PTRACE_PEEKUSER, pid, offsetof(struct user_regs_struct, rip), 0);
            if ((unsigned long)ip >= p->lo && (unsigned long)ip < p->hi) {
                unsigned long at = ip - p->lo + p->off;
                if (at < size) bitmap[at] = 1;
                steps++;
            }
        } else if (sig == SIGSTOP && !p->known) {
            read_maps(p);  // a new process's first stop: swallowed
        } else {
            deliver = sig;
        }
        ptrace(PTRACE_SINGLESTEP, pid, 0, deliver);
    }
    f = fopen(argv[2], "w");
    if (!f || fwrite(bitmap, 1, size, f) != size || fclose(f)) { perror(argv[2]); return 2; }
    fprintf(stderr, "tracer: %lu instructions of %s\n", steps, argv[1]);
    return rc;
}
