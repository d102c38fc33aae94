# params1: samples/linux/params/params.ko given valid values of every type, quoting,
# dashes for underscores, unknown parameters and `--', bool spellings; sysfs read back.
# Read by tests/test_params.py, which replays each load through emulator/kapi/params.py.
# Markers: "@@ step N ..." goes to the kernel log (to cut it into steps) and to stdout;
# the stdout line also shows, between <>, the exact option string busybox insmod passes
# to the kernel (every argument followed by one space, no quoting). "@@ sysfs" lists the
# parameter files as "mode path", then their contents as "path:line" (grep -H '').
n=0
load() {
	n=$((n+1)); opts=""
	for a in "$@"; do opts="$opts$a "; done
	echo "@@ step $n load" > /dev/kmsg
	echo "@@ step $n load <$opts>"
	insmod params.ko "$@"; echo "rc=$?"
}
show() {
	echo "@@ sysfs"
	stat -c '%a %n' /sys/module/params/parameters/*
	grep -H '' /sys/module/params/parameters/*
}
unload() { echo "@@ step $n unload" > /dev/kmsg; rmmod params; echo "rc=$?"; }

load
show
unload
load p_byte=255 p_short=-32768 p_ushort=65535 p_int=-2147483648 p_uint=4294967295 \
	p_long=-9223372036854775808 p_ulong=18446744073709551615 p_ullong=18446744073709551615 \
	p_hexint=0 p_charp=hi p_bool=n p_invbool=y p_bint=0 p_string=abcdefghijklmno \
	p_ints=1,-2,3,4 p_names=x,y,z
show
unload
load p_byte=0x7f p_short=+077 p_ushort=0X10 p_int=0x7fffffff p_uint=010 \
	p_long=-0x8000000000000000 p_ulong=0 p_ullong=0xFFFFFFFFFFFFFFFF p_hexint=0xABCDEF01 \
	p_charp= p_bool p_invbool=n p_bint p_string= p_ints=-0 p_names=
show
unload
load 'p_charp="hello world"' '"p_string=a b c"' 'p_names=hello" "world,2' p-int=5 p-bint=0 \
	'p_ints="7,8"'
show
unload
load "$(printf 'p_int=1\tp_uint=2')" "$(printf 'p_charp=a\240b')" 'p_names="x y",z'
show
unload
load nosuch=1 bogus p_int=3 dyndbg=-p async_probe p_int_=4 P_INT=9 --=5 foo.bar=1 \
	other.dyndbg=+p =x =x=y async_probe=junk
unload
load p_int=1 -- p_int=2 junk
show
unload
load p_int=1 --
unload
load p_int=7 '"--"' p_int=8
unload
load p_bool=y p_invbool=Y p_bint=1
unload
load p_bool=N p_invbool=n p_bint=0
unload
load p_bool=on p_invbool=off p_bint=t
unload
load p_bool=off p_invbool=on p_bint=f
unload
load p_bool=T p_invbool=F p_bint=Yes
unload
load p_bool=oN p_invbool=OFF p_bint=no
unload
load p_bool=0x p_invbool=1x p_bint=true
show
unload
# Last, as it lasts for the rest of the boot: dynamic debug queries apply to a module
# name, and kernel/params.c is "params" too, so this turns on its pr_debug lines.
load dyndbg=+p p_int=3
unload
echo "@@ raw dmesg"
dmesg -r
