#!/usr/bin/env bash
# run.sh: boots the edgepose test VM once and returns the exit status of the
# payload's guest.sh (scripts/vm/README.md has the whole story).
#
#   run.sh (--payload DIR [-r ROOT_OVERLAY]... | --initramfs FILE) [options]
#
#   --payload DIR        build an initramfs from DIR (build-initramfs.sh) into
#                        the work folder; -r adds root overlays (closure.sh)
#   --initramfs FILE     boot this initramfs as is
#   --workdir DIR        where the initramfs, logs and sockets go
#                        (default: a new folder under ${TMPDIR:-/tmp})
#   --serial-out SPEC    the guest's /dev/ttyS1: socket:PATH (a Unix socket
#                        QEMU listens on; QEMU waits for a client to connect
#                        before the guest starts, so nothing is lost) or
#                        file:PATH (write-only; default file:WORKDIR/serial-out.log)
#   --console FILE       console log (ttyS0) (default WORKDIR/console.log)
#   --show-console       also copy the console to stderr as it comes
#   --timeout SECONDS    limit for guest.sh inside the guest (default 120);
#                        QEMU itself is killed EDGEPOSE_VM_BOOT_ALLOWANCE (default
#                        180) seconds later
#   --memory MB          guest memory (default 1024)
#   --smp N              guest CPUs (default 2)
#   --display WxH        add a bochs-display (xres/yres = W/H; the guest loads
#                        bochs and gets /dev/fb0) and the monitor sockets
#   --qmp PATH           QMP socket (default WORKDIR/qmp.sock with --display)
#   --monitor PATH       human monitor socket (default WORKDIR/monitor.sock
#                        with --display), e.g. socat - UNIX-CONNECT:PATH, then
#                        "screendump /tmp/x.ppm"
#   --accel auto|kvm|tcg auto (default, or EDGEPOSE_VM_ACCEL): KVM when a probe
#                        boot under KVM succeeds (verdict cached), else TCG
#   --append ARGS        extra kernel command line
#   --shell              console on this terminal; after guest.sh a shell
#                        runs in the guest (exit it to power off)
#
# Exit status: guest.sh's status (124 when it ran past --timeout); 125 when
# the guest ended without the exit marker (kernel panic, init failure: see
# the console log); 124 also when QEMU had to be killed; 2 usage; 1 setup.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
vm=${EDGEPOSE_CACHE:-$repo/.cache}/vm

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
payload="" initramfs="" workdir="" serial="" console="" show=0 timeout_s=120 mem=1024 smp=2
display="" qmp="" monitor="" accel=${EDGEPOSE_VM_ACCEL:-auto} append="" shell=0
overlays=()
while [ $# -gt 0 ]; do
    case $1 in
        --payload) payload=$2; shift ;;
        -r) overlays+=(-r "$2"); shift ;;
        --initramfs) initramfs=$2; shift ;;
        --workdir) workdir=$2; shift ;;
        --serial-out) serial=$2; shift ;;
        --console) console=$2; shift ;;
        --show-console) show=1 ;;
        --timeout) timeout_s=$2; shift ;;
        --memory) mem=$2; shift ;;
        --smp) smp=$2; shift ;;
        --display) display=$2; shift ;;
        --qmp) qmp=$2; shift ;;
        --monitor) monitor=$2; shift ;;
        --accel) accel=$2; shift ;;
        --append) append=$2; shift ;;
        --shell) shell=1 ;;
        -h | --help) usage ;;
        *) echo "run.sh: unknown option $1" >&2; usage ;;
    esac
    shift
done
[ -n "$payload" ] || [ -n "$initramfs" ] || usage
[[ $timeout_s =~ ^[0-9]+$ ]] || { echo "run.sh: --timeout $timeout_s: expected whole seconds" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 not installed: run scripts/setup-vm.sh" >&2; exit 1; }
[ -e "$vm/vmlinuz" ] || { echo "run.sh: no kernel in $vm: run scripts/setup-vm.sh" >&2; exit 1; }

kernel="$vm/vmlinuz"
[ -s "$vm/vmlinux" ] && kernel="$vm/vmlinux"
workdir=${workdir:-$(mktemp -d "${TMPDIR:-/tmp}/edgepose-vm.XXXXXX")}
mkdir -p "$workdir"
console=${console:-$workdir/console.log}
serial=${serial:-file:$workdir/serial-out.log}
if [ -n "$payload" ]; then
    initramfs="$workdir/initramfs.cpio.gz"
    "$here/build-initramfs.sh" "${overlays[@]}" "$payload" "$initramfs"
fi

# KVM is used only where it demonstrably works: a present /dev/kvm is not
# enough (nested setups abort on CPU MSRs or hang). The probe boots this
# initramfs with ep.probe=1 (init powers off at once) and its verdict is kept
# in $vm/kvm-probe per host kernel and QEMU version.
kvm_works() {
    [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
    local key verdict
    key="$(uname -r) $(qemu-system-x86_64 --version | head -n1)"
    if [ -f "$vm/kvm-probe" ] && [ "$(sed -n 2p "$vm/kvm-probe")" = "$key" ]; then
        verdict=$(head -n1 "$vm/kvm-probe")
    else
        verdict=fail
        if timeout -k 2 20 qemu-system-x86_64 -nodefaults -no-user-config -no-reboot -machine pc -accel kvm \
            -cpu max -m 256 -display none -vga none -nic none -kernel "$kernel" -initrd "$initramfs" \
            -serial stdio -append "console=ttyS0 panic=-1 quiet rdinit=/init ep.probe=1" </dev/null 2>/dev/null |
            grep -q EDGEPOSE-VM-PROBE-OK; then
            verdict=ok
        fi
        printf '%s\n%s\n' "$verdict" "$key" >"$vm/kvm-probe"
        echo "run.sh: KVM probe: $verdict" >&2
    fi
    [ "$verdict" = ok ]
}
case $accel in
    auto) if kvm_works; then accel_args=(-accel kvm); else accel_args=(-accel tcg); fi ;;
    kvm) accel_args=(-accel kvm) ;;
    tcg) accel_args=(-accel tcg) ;;
    *) echo "run.sh: --accel $accel: expected auto, kvm or tcg" >&2; exit 2 ;;
esac

cmdline="console=ttyS0 panic=-1 quiet rdinit=/init ep.timeout=$timeout_s"
args=(-nodefaults -no-user-config -no-reboot -machine pc "${accel_args[@]}" -cpu max
    -smp "$smp" -m "$mem" -display none -vga none -nic none
    -kernel "$kernel" -initrd "$initramfs")
if [ "$shell" = 1 ]; then
    cmdline="$cmdline ep.shell=1"
    args+=(-chardev "stdio,id=con,logfile=$console,signal=off")
else
    : >"$console"
    args+=(-chardev "file,id=con,path=$console")
fi
args+=(-serial chardev:con)
case $serial in
    socket:*) args+=(-chardev "socket,id=out,path=${serial#socket:},server=on,wait=on") ;;
    file:*) args+=(-chardev "file,id=out,path=${serial#file:}") ;;
    *) echo "run.sh: --serial-out $serial: expected socket:PATH or file:PATH" >&2; exit 2 ;;
esac
args+=(-serial chardev:out)
if [ -n "$display" ]; then
    [[ $display =~ ^([0-9]+)x([0-9]+)$ ]] || { echo "run.sh: --display $display: expected WxH" >&2; exit 2; }
    args+=(-device "bochs-display,xres=${BASH_REMATCH[1]},yres=${BASH_REMATCH[2]}")
    cmdline="$cmdline ep.display=1"
    qmp=${qmp:-$workdir/qmp.sock}
    monitor=${monitor:-$workdir/monitor.sock}
fi
[ -n "$qmp" ] && args+=(-qmp "unix:$qmp,server=on,wait=off")
[ -n "$monitor" ] && args+=(-monitor "unix:$monitor,server=on,wait=off")
args+=(-append "$cmdline${append:+ $append}")

echo "run.sh: workdir $workdir, accelerator ${accel_args[1]}" >&2
tail_pid=""
if [ "$show" = 1 ] && [ "$shell" = 0 ]; then
    tail -n +1 -F "$console" >&2 2>/dev/null &
    tail_pid=$!
fi
limit=$((timeout_s + ${EDGEPOSE_VM_BOOT_ALLOWANCE:-180}))
start=$(date +%s.%N)
set +e
if [ "$shell" = 1 ]; then
    qemu-system-x86_64 "${args[@]}"
    qrc=$?
else
    timeout -k 5 "$limit" qemu-system-x86_64 "${args[@]}" </dev/null
    qrc=$?
fi
set -e
end=$(date +%s.%N)
[ -n "$tail_pid" ] && { sleep 0.2; kill "$tail_pid" 2>/dev/null || true; }
awk -v s="$start" -v e="$end" -v r="$qrc" 'BEGIN { printf "run.sh: qemu ran %.1f s (exit %d)\n", e - s, r }' >&2

marker=$(grep -a -o 'EDGEPOSE-VM-EXIT status=[0-9]*' "$console" | tail -n1 || true)
if [ -n "$marker" ]; then
    exit "${marker#EDGEPOSE-VM-EXIT status=}"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    echo "run.sh: QEMU was killed after ${limit}s without the guest finishing; console: $console" >&2
    exit 124
fi
echo "run.sh: the guest ended without its exit marker (QEMU exit $qrc); console: $console" >&2
tail -n 20 "$console" >&2
exit 125
