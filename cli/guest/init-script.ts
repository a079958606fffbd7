/**
 * The guest's /init (busybox sh): mounts proc, sysfs and devtmpfs, loads the NIC and disk
 * drivers, waits until the kernel's NICs and disks stay the same, then prints what udev calls
 * each of them and powers off. Every line it reports starts with GUEST_PREFIX, between the
 * begin and end markers, so kernel and firmware output on the same line can be told apart.
 */
export const GUEST_PREFIX = 'machinec-guest:';
export const GUEST_BEGIN = `${GUEST_PREFIX} begin`;
export const GUEST_END = `${GUEST_PREFIX} end`;

export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null; done < /etc/machinec-modules
# Until the NICs and disks the kernel found stay the same for 3 s (at most 60 s).
last=; same=0; i=0
while [ "$i" -lt 60 ] && [ "$same" -lt 3 ]; do
  now="$(ls /sys/class/net /sys/block 2>/dev/null | tr '\\n' ' ')"
  if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last="$now"; fi
  sleep 1; i=$((i + 1))
done
say() { echo "${GUEST_PREFIX} $*"; }
serial() {
  for f in "$1/serial" "$1/device/serial"; do [ -r "$f" ] && { tr -cd '[:graph:]' < "$f"; return; }; done
  [ -r "$1/device/vpd_pg80" ] && tail -c +5 "$1/device/vpd_pg80" | tr -cd '[:graph:]'
}
say begin
for n in /sys/class/net/*; do
  x="\${n##*/}"; [ -e "$n/device" ] || continue
  say "nic $x mac $(cat "$n/address")"
  say "nic $x sysfs $(readlink -f "$n/device")"
  udevadm test-builtin net_id "$n" 2>/dev/null | sed -n "s/^\\(ID_NET_NAME_[A-Z]*\\)=/${GUEST_PREFIX} nic $x \\1 /p"
done
for b in /sys/block/*; do
  x="\${b##*/}"; [ -e "$b/device" ] || continue
  say "disk $x sysfs $(readlink -f "$b/device")"
  say "disk $x serial $(serial "$b")"
  udevadm test-builtin path_id "$b" 2>/dev/null | sed -n "s/^ID_PATH=/${GUEST_PREFIX} disk $x ID_PATH /p"
done
say end
poweroff -f
`;
