# Helpers of the engine suite (sourced by tests/engines/run.sh): checks with PASS/FAIL lines,
# assertions that say what they saw, waiting, and the host snapshots of the leak check.

passed=0
failed=0
failed_names=()

# check NAME FUNCTION [ARGS...]: runs the function (in this shell: what it starts and records
# stays) with its output in $T/logs/NAME.log; prints one PASS or FAIL line (and on failure the
# last lines of that log).
check() {
    local name=$1
    shift
    local log="$T/logs/${name//[^A-Za-z0-9_.-]/_}.log"
    local start=$SECONDS
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        printf 'PASS  %-55s %3ss\n' "$name" $((SECONDS - start))
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        printf 'FAIL  %-55s %3ss\n' "$name" $((SECONDS - start))
        tail -n 25 "$log" | sed 's/^/      | /'
        return 1
    fi
}

fail() {
    echo "FAILED: $*"
    return 1
}

# expect_eq WHAT GOT WANT
expect_eq() {
    if [[ "$2" != "$3" ]]; then
        fail "$1: got '$2', want '$3'"
        return 1
    fi
    echo "ok: $1 = '$3'"
}

# expect_has WHAT TEXT NEEDLE: TEXT contains NEEDLE.
expect_has() {
    if [[ "$2" != *"$3"* ]]; then
        printf '%s\n' "$2" | tail -n 20
        fail "$1: '$3' not in the output above"
        return 1
    fi
    echo "ok: $1 has '$3'"
}

expect_lacks() {
    if [[ "$2" == *"$3"* ]]; then
        printf '%s\n' "$2" | tail -n 20
        fail "$1: '$3' is in the output above"
        return 1
    fi
    echo "ok: $1 lacks '$3'"
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# tty_run COMMAND: runs the shell command under a pseudo-terminal (script(1)), feeding it this
# function's stdin slowly enough for an interactive shell; prints what the terminal showed.
tty_run() {
    local cmd=$1
    timeout 60 script -qefc "$cmd" /dev/null
}

# freezer_state PID: the v1 freezer state of the cgroup PID is in.
freezer_state() {
    local path
    path=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$1/cgroup")
    cat "/sys/fs/cgroup/freezer$path/freezer.state"
}

# cgroup_file CONTROLLER PID FILE: a file of the v1 cgroup PID is in.
cgroup_file() {
    local path
    path=$(awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$2/cgroup")
    cat "/sys/fs/cgroup/$1$path/$3"
}

# Host snapshots for the leak check: mount points, cgroup directories (three levels down every
# hierarchy) and processes that name the suite's directory.
snap_mounts() {
    awk '{ print $5 }' /proc/self/mountinfo | sort -u
}

# Every file and link in /etc with its size and modification time (directories' own times
# change with any entry made and removed again).
snap_etc() {
    find /etc \( -type f -o -type l \) -printf '%p %s %T@\n' 2>/dev/null | sort
}

snap_cgroups() {
    local h
    for h in /sys/fs/cgroup/*/; do
        find "$h" -mindepth 1 -maxdepth 3 -type d 2>/dev/null
    done | sort -u
}

# Processes whose command line or cwd mentions $1.
procs_naming() {
    local p cmd
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
        if [[ $cmd == *"$1"* ]]; then
            echo "${p#/proc/} $cmd"
        fi
    done
}
