# params3: boundaries that load (1024-byte charp, 15-byte string), then writes to
# /sys/module/params/parameters/* (each calls the parameter's set op with what echo
# wrote, newline included), each followed by the file's contents. Markers as in
# params1.sh; "@@ step N write P <V>" writes V plus a newline (echo) to parameter P,
# "@@ step N write2 P <V>" writes V and two newlines, "@@ step N printf P <V>" writes V alone.
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
w() {
	n=$((n+1))
	echo "@@ step $n write $1" > /dev/kmsg
	echo "@@ step $n write $1 <$2>"
	echo "$2" > /sys/module/params/parameters/$1; echo "rc=$?"
	grep -H '' /sys/module/params/parameters/$1
}
w2() {
	n=$((n+1))
	echo "@@ step $n write2 $1" > /dev/kmsg
	echo "@@ step $n write2 $1 <$2>"
	printf '%s\n\n' "$2" > /sys/module/params/parameters/$1; echo "rc=$?"
	grep -H '' /sys/module/params/parameters/$1
}
p() {
	n=$((n+1))
	echo "@@ step $n printf $1" > /dev/kmsg
	echo "@@ step $n printf $1 <$2>"
	printf '%s' "$2" > /sys/module/params/parameters/$1; echo "rc=$?"
	grep -H '' /sys/module/params/parameters/$1
}

max=$(head -c 1024 /dev/zero | tr '\0' y)
load "p_charp=$max" p_string=0123456789abcde
show
unload
load p_names=a,b
w p_int 77
w p_int ' 5'
w p_int ''
w2 p_int 5
w p_short 0x10
w p_short -32769
w p_ushort 65535
w p_hexint 0
w p_hexint 0xffffffff
w p_bool n
w p_bool junk
w p_bool on
w p_bint off
w p_string hello
w p_string 0123456789abcde
p p_string 0123456789abcde
p p_string abc
w p_names c,d,e
p p_names f
w p_names 1,2,3,4
w p_names ''
w p_byte 1
show
unload
echo "@@ raw dmesg"
dmesg -r
