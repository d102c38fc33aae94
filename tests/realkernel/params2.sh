# params2: parameter values the kernel refuses, one failing insmod each (nothing stays
# loaded). busybox insmod tries finit_module, then init_module, so every message of a
# failed load is in the kernel log twice. Markers as in params1.sh.
n=0
load() {
	n=$((n+1)); opts=""
	for a in "$@"; do opts="$opts$a "; done
	echo "@@ step $n load" > /dev/kmsg
	echo "@@ step $n load <$opts>"
	insmod params.ko "$@"; echo "rc=$?"
}

long=$(head -c 1025 /dev/zero | tr '\0' x)
load p_byte=256
load p_byte=-1
load p_short=32768
load p_short=-32769
load p_ushort=65536
load p_int=2147483648
load p_int=-2147483649
load p_int=12abc
load p_int=0x
load p_int=08
load p_int=
load p_int
load p_int=--5
load p_int=+-5
load p_uint=4294967296
load p_uint=-1
load p_long=9223372036854775808
load p_ulong=18446744073709551616
load p_ullong=99999999999999999999abc
load p_hexint=0x100000000
load p_bool=junk
load p_bool=
load p_bool=o
load p_bool=ox
load p_invbool
load p_bint=2
load p_string=0123456789abcdef
load p_string
load "p_charp=$long"
load p_charp
load p_ints=1,2,3,4,5
load p_ints=1,x,3
load p_ints=1,2147483648
load p_ints=,
load p_ints=
load p_names=a,b,c,d
load p_int=x p_byte=999 p_uint=7
load p_byte=999 p_int=x
load nosuch p_int=x
load p_int=x -- p_int=zzz
echo "@@ modules"
cat /proc/modules
echo "@@ raw dmesg"
dmesg -r
