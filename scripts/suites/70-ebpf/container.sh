#!/usr/bin/env bash
# The README's container recipe on a real container: podman (runc) runs IMAGE, a static pair that
# connects once /shared/go exists; kashim attaches to the container's cgroup as found in
# /proc/PID/cgroup; then the container's connection is printed. Run inside `unshare -m`: on a
# hybrid host /sys/fs/cgroup is bind-mounted to the cgroup v2 hierarchy first, so podman (and
# runc) put the container in a cgroup v2 cgroup, as on a cgroup v2 host.
# Usage: container.sh KASHIM IMAGE NAME CGROUP_PARENT SHARED_DIR OUT_DIR [kashim options...]
# Writes OUT_DIR/control (the same container without kashim), OUT_DIR/cgroup and cgroup_id (the
# container's cgroup path and id), OUT_DIR/attach, OUT_DIR/result (the attached container's keepalive) and
# OUT_DIR/detach (kashim --detach of that cgroup once the container is gone). Removes its
# containers (and their cgroups) on exit; the caller removes the image and CGROUP_PARENT.
set -u
kashim=$1 image=$2 name=$3 parent=$4 shared=$5 out=$6
shift 6
cleanup() { podman rm -f "$name" "$name-control" >/dev/null 2>&1; }
trap cleanup EXIT
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
    v2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
    mount --bind "$v2" /sys/fs/cgroup || exit 1
fi
# --network none: the container has its own network namespace with loopback only. The limits:
# runc sets the container's RLIMIT_NOFILE/NPROC (to a million by default), which needs
# CAP_SYS_RESOURCE when that is above the current hard limit; lower ones need nothing.
run=(podman run --network none --pids-limit 0 --ulimit nofile=1024:1024 --ulimit nproc=4096:4096
    --cgroup-parent "/$parent" -v "$shared:/shared")
"${run[@]}" --rm --name "$name-control" "$image" /pair >"$out/control" 2>&1
"${run[@]}" -d --name "$name" "$image" /pair - /shared/go >/dev/null 2>"$out/run.err" || exit 1
pid=$(podman inspect -f '{{.State.Pid}}' "$name")
sed -n 's/^0:://p' "/proc/$pid/cgroup" >"$out/cgroup"
stat -c %i "/sys/fs/cgroup$(cat "$out/cgroup")" >"$out/cgroup_id"
"$kashim" --ebpf --cgroup "$(sed -n 's/^0:://p' "/proc/$pid/cgroup")" "$@" >"$out/attach" 2>&1
touch "$shared/go"
podman wait "$name" >/dev/null
podman logs "$name" >"$out/result" 2>&1
podman rm "$name" >/dev/null
# The container's cgroup is gone with it; --detach of its path removes the pin (once the kernel
# has freed the cgroup, which a worker does shortly).
bpffs=$(awk '$9 == "bpf" { print $5; exit }' /proc/self/mountinfo)
for _ in $(seq 30); do
    "$kashim" --ebpf --cgroup "$(cat "$out/cgroup")" --detach >"$out/detach" 2>&1
    [ -e "$bpffs/kashim/cgroup-$(cat "$out/cgroup_id")" ] || break
    sleep 0.1
done
