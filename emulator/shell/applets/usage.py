"""What busybox knows about its applets: the banner and ``--help`` text of each simulated
applet, which ones ash runs without exec, and the whole list of the guest's busybox."""

BUSYBOX_BANNER = "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n\n"

# bb_show_usage() text of each simulated applet (busybox --help), after the banner
USAGE = {
    "insmod": "Usage: insmod FILE [SYMBOL=VALUE]...\n\nLoad kernel module\n",
    "rmmod": "Usage: rmmod [-wfa] [MODULE]...\n\nUnload kernel modules\n\n"
             "\t-w\tWait until the module is no longer used\n\t-f\tForce unload\n"
             "\t-a\tRemove all unused modules (recursively)\n",
    "lsmod": "Usage: lsmod\n\nList loaded kernel modules\n",
    "ps": "Usage: ps\n\nShow list of processes\n",
    "od": "Usage: od [-abcdfhilovxs] [-t TYPE] [-A RADIX] [-N SIZE] [-j SKIP] [-S MINSTR] "
          "[-w WIDTH] [FILE]...\n\nPrint FILEs (or stdin) unambiguously, as octal bytes by "
          "default\n",
    "hexdump": "Usage: hexdump [-bcdoxCv] [-e FMT] [-f FMT_FILE] [-n LEN] [-s OFS] [FILE]...\n\n"
               "Display FILEs (or stdin) in a user specified format\n\n"
               "\t-b\t\t1-byte octal display\n\t-c\t\t1-byte character display\n"
               "\t-d\t\t2-byte decimal display\n\t-o\t\t2-byte octal display\n"
               "\t-x\t\t2-byte hex display\n\t-C\t\thex+ASCII 16 bytes per line\n"
               "\t-v\t\tShow all (no dup folding)\n"
               "\t-e FORMAT_STR\tExample: '16/1 \"%02x|\"\"\\n\"'\n\t-f FORMAT_FILE\n"
               "\t-n LENGTH\tShow only first LENGTH bytes\n\t-s OFFSET\tSkip OFFSET bytes\n",
    "mknod": "Usage: mknod [-m MODE] NAME TYPE [MAJOR MINOR]\n\n"
             "Create a special file (block, character, or pipe)\n\n"
             "\t-m MODE\tCreation mode (default a=rw)\nTYPE:\n\tb\tBlock device\n"
             "\tc or u\tCharacter device\n\tp\tNamed pipe (MAJOR MINOR must be omitted)\n",
    "dd": "Usage: dd [if=FILE] [of=FILE] [ibs=N obs=N/bs=N] [count=N] [skip=N] [seek=N]\n"
          "\t[conv=notrunc|noerror|sync|fsync]\n\t[iflag=skip_bytes|count_bytes|fullblock|"
          "direct] [oflag=seek_bytes|append|direct]\n\n"
          "Copy a file with converting and formatting\n",
    "modprobe": "Usage: modprobe [-alrqvsDb] MODULE [SYMBOL=VALUE]...\n\n"
                "\t-a\tLoad multiple MODULEs\n\t-l\tList (MODULE is a pattern)\n"
                "\t-r\tRemove MODULE (stacks) or do autoclean\n\t-q\tQuiet\n\t-v\tVerbose\n"
                "\t-s\tLog to syslog\n\t-D\tShow dependencies\n"
                "\t-b\tApply blacklist to module names too\n",
    "modinfo": "Usage: modinfo [-adlpn0] [-F keyword] MODULE\n\n"
               "\t-a\t\tShortcut for '-F author'\n\t-d\t\tShortcut for '-F description'\n"
               "\t-l\t\tShortcut for '-F license'\n\t-p\t\tShortcut for '-F parm'\n"
               "\t-F keyword\tKeyword to look for\n\t-0\t\tNUL terminated output\n",
    "depmod": "Usage: depmod [-n] [-b BASE] [VERSION] [MODFILES]...\n\n"
              "Generate modules.dep, alias, and symbols files\n\n"
              "\t-b BASE\tUse BASE/lib/modules/VERSION\n\t-n\tDry run: print files to stdout\n",
    "dmesg": "Usage: dmesg [-cr] [-n LEVEL] [-s SIZE]\n\n"
             "Print or control the kernel ring buffer\n\n"
             "\t-c\t\tClear ring buffer after printing\n\t-n LEVEL\tSet console logging level\n"
             "\t-s SIZE\t\tBuffer size\n\t-r\t\tPrint raw message buffer\n",
    "cat": "Usage: cat [-nbvteA] [FILE]...\n\nPrint FILEs to stdout\n\n"
           "\t-n\tNumber output lines\n\t-b\tNumber nonempty lines\n"
           "\t-v\tShow nonprinting characters as ^x or M-x\n\t-t\t...and tabs as ^I\n"
           "\t-e\t...and end lines with $\n\t-A\tSame as -vte\n",
    "head": "Usage: head [OPTIONS] [FILE]...\n\n"
            "Print first 10 lines of FILEs (or stdin).\n"
            "With more than one FILE, precede each with a filename header.\n\n"
            "\t-n N[bkm]\tPrint first N lines\n\t-n -N[bkm]\tPrint all except N last lines\n"
            "\t-c [-]N[bkm]\tPrint first N bytes\n\t\t\t(b:*512 k:*1024 m:*1024^2)\n"
            "\t-q\t\tNever print headers\n\t-v\t\tAlways print headers\n",
    "ls": "Usage: ls [-1AaCxdLHRFplinshrSXvctu] [-w WIDTH] [FILE]...\n\n"
          "List directory contents\n\n\t-1\tOne column output\n"
          "\t-a\tInclude names starting with .\n\t-A\tLike -a, but exclude . and ..\n"
          "\t-x\tList by lines\n\t-d\tList directory names, not contents\n"
          "\t-L\tFollow symlinks\n\t-H\tFollow symlinks on command line\n\t-R\tRecurse\n"
          "\t-p\tAppend / to directory names\n"
          "\t-F\tAppend indicator (one of */=@|) to names\n\t-l\tLong format\n"
          "\t-i\tList inode numbers\n\t-n\tList numeric UIDs and GIDs instead of names\n"
          "\t-s\tList allocated blocks\n\t-lc\tList ctime\n\t-lu\tList atime\n"
          "\t--full-time\tList full date/time\n\t-h\tHuman readable sizes (1K 243M 2G)\n"
          "\t--group-directories-first\n\t-S\tSort by size\n\t-X\tSort by extension\n"
          "\t-v\tSort by version\n\t-t\tSort by mtime\n\t-tc\tSort by ctime\n"
          "\t-tu\tSort by atime\n\t-r\tReverse sort order\n\t-w N\tFormat N columns wide\n"
          "\t--color[={always,never,auto}]\n",
    "sleep": "Usage: sleep [N]...\n\nPause for a time equal to the total of the args given,"
             " where each arg can\nhave an optional suffix of (s)econds, (m)inutes, (h)ours,"
             " or (d)ays\n",
    "stat": "Usage: stat [-ltf] [-c FMT] FILE...\n\n"
            "Display file (default) or filesystem status\n\n"
            "\t-c FMT\tUse the specified format\n\t-f\tDisplay filesystem status\n"
            "\t-L\tFollow links\n\t-t\tTerse display\n\nFMT sequences for files:\n"
            " %a\tAccess rights in octal\n %A\tAccess rights in human readable form\n"
            " %b\tNumber of blocks allocated (see %B)\n"
            " %B\tSize in bytes of each block reported by %b\n %d\tDevice number in decimal\n"
            " %D\tDevice number in hex\n %f\tRaw mode in hex\n %F\tFile type\n %g\tGroup ID\n"
            " %G\tGroup name\n %h\tNumber of hard links\n %i\tInode number\n %n\tFile name\n"
            " %N\tFile name, with -> TARGET if symlink\n %o\tI/O block size\n"
            " %s\tTotal size in bytes\n %t\tMajor device type in hex\n"
            " %T\tMinor device type in hex\n %u\tUser ID\n %U\tUser name\n"
            " %x\tTime of last access\n %X\tTime of last access as seconds since Epoch\n"
            " %y\tTime of last modification\n"
            " %Y\tTime of last modification as seconds since Epoch\n %z\tTime of last change\n"
            " %Z\tTime of last change as seconds since Epoch\n\n"
            "FMT sequences for file systems:\n %a\tFree blocks available to non-superuser\n"
            " %b\tTotal data blocks\n %c\tTotal file nodes\n %d\tFree file nodes\n"
            " %f\tFree blocks\n %i\tFile System ID in hex\n %l\tMaximum length of filenames\n"
            " %n\tFile name\n %s\tBlock size (for faster transfer)\n"
            " %S\tFundamental block size (for block counts)\n %t\tType in hex\n"
            " %T\tType in human readable form\n",
    "grep": "Usage: grep [-HhnlLoqvsrRiwFEz] [-m N] [-A|B|C N] "
            "{ PATTERN | -e PATTERN... | -f FILE... } [FILE]...\n"
            "\nSearch for PATTERN in FILEs (or stdin)\n\n\t-H\tAdd 'filename:' prefix\n"
            "\t-h\tDo not add 'filename:' prefix\n\t-n\tAdd 'line_no:' prefix\n"
            "\t-l\tShow only names of files that match\n"
            "\t-L\tShow only names of files that don't match\n"
            "\t-c\tShow only count of matching lines\n"
            "\t-o\tShow only the matching part of line\n"
            "\t-q\tQuiet. Return 0 if PATTERN is found, 1 otherwise\n"
            "\t-v\tSelect non-matching lines\n\t-s\tSuppress open and read errors\n"
            "\t-r\tRecurse\n\t-R\tRecurse and dereference symlinks\n\t-i\tIgnore case\n"
            "\t-w\tMatch whole words only\n\t-x\tMatch whole lines only\n"
            "\t-F\tPATTERN is a literal (not regexp)\n\t-E\tPATTERN is an extended regexp\n"
            "\t-z\tNUL terminated input\n\t-m N\tMatch up to N times per file\n"
            "\t-A N\tPrint N lines of trailing context\n"
            "\t-B N\tPrint N lines of leading context\n\t-C N\tSame as '-A N -B N'\n"
            "\t-e PTRN\tPattern to match\n\t-f FILE\tRead pattern from file\n",
    "wc": "Usage: wc [-cmlwL] [FILE]...\n\n"
          "Count lines, words, and bytes for FILEs (or stdin)\n\n\t-c\tCount bytes\n"
          "\t-m\tCount characters\n\t-l\tCount newlines\n\t-w\tCount words\n"
          "\t-L\tPrint longest line length\n",
    "tail": "Usage: tail [OPTIONS] [FILE]...\n\nPrint last 10 lines of FILEs (or stdin) to.\n"
            "With more than one FILE, precede each with a filename header.\n\n"
            "\t-c [+]N[bkm]\tPrint last N bytes\n\t-n N[bkm]\tPrint last N lines\n"
            "\t-n +N[bkm]\tStart on Nth line and print the rest\n"
            "\t\t\t(b:*512 k:*1024 m:*1024^2)\n\t-q\t\tNever print headers\n"
            "\t-v\t\tAlways print headers\n\t-f\t\tPrint data as file grows\n"
            "\t-F\t\tSame as -f, but keep retrying\n"
            "\t-s SECONDS\tWait SECONDS between reads with -f\n",
    "sort": "Usage: sort [-nrugMcszbdfiokt] [-o FILE] "
            "[-k START[.OFS][OPTS][,END[.OFS][OPTS]] [-t CHAR] [FILE]...\n"
            "\nSort lines of text\n\n\t-o FILE\tOutput to FILE\n"
            "\t-c\tCheck whether input is sorted\n\t-b\tIgnore leading blanks\n"
            "\t-f\tIgnore case\n\t-i\tIgnore unprintable characters\n"
            "\t-d\tDictionary order (blank or alphanumeric only)\n\t-n\tSort numbers\n"
            "\t-g\tGeneral numerical sort\n\t-M\tSort month\n\t-V\tSort version\n"
            "\t-t CHAR\tField separator\n\t-k N[,M] Sort by Nth field\n"
            "\t-r\tReverse sort order\n\t-s\tStable (don't sort ties alphabetically)\n"
            "\t-u\tSuppress duplicate lines\n\t-z\tNUL terminated input and output\n",
    "uniq": "Usage: uniq [-cduiz] [-f,s,w N] [FILE [OUTFILE]]\n\nDiscard duplicate lines\n\n"
            "\t-c\tPrefix lines by the number of occurrences\n"
            "\t-d\tOnly print duplicate lines\n\t-u\tOnly print unique lines\n"
            "\t-i\tIgnore case\n\t-z\tNUL terminated output\n\t-f N\tSkip first N fields\n"
            "\t-s N\tSkip first N chars (after any skipped fields)\n"
            "\t-w N\tCompare N characters in line\n",
    "cut": "Usage: cut [OPTIONS] [FILE]...\n\nPrint selected fields from FILEs to stdout\n\n"
           "\t-b LIST\tOutput only bytes from LIST\n"
           "\t-c LIST\tOutput only characters from LIST\n"
           "\t-d SEP\tField delimiter for input (default -f TAB, -F run of whitespace)\n"
           "\t-O SEP\tField delimiter for output (default = -d for -f, one space for -F)\n"
           "\t-D\tDon't sort/collate sections or match -fF lines without delimiter\n"
           "\t-f LIST\tPrint only these fields (-d is single char)\n"
           "\t-F LIST\tPrint only these fields (-d is regex)\n"
           "\t-s\tOutput only lines containing delimiter\n\t-n\tIgnored\n",
    "tr": "Usage: tr [-cds] STRING1 [STRING2]\n\n"
          "Translate, squeeze, or delete characters from stdin, writing to stdout\n\n"
          "\t-c\tTake complement of STRING1\n\t-d\tDelete input characters coded STRING1\n"
          "\t-s\tSqueeze multiple output characters of STRING2 into one character\n",
    "seq": "Usage: seq [-w] [-s SEP] [FIRST [INC]] LAST\n\n"
           "Print numbers from FIRST to LAST, in steps of INC.\nFIRST, INC default to 1.\n\n"
           "\t-w\tPad to last with leading zeros\n\t-s SEP\tString separator\n",
    "basename": "Usage: basename FILE [SUFFIX] | -a FILE... | -s SUFFIX FILE...\n\n"
                "Strip directory path and SUFFIX from FILE\n\n\t-a\t\tAll arguments are FILEs\n"
                "\t-s SUFFIX\tRemove SUFFIX (implies -a)\n",
    "dirname": "Usage: dirname FILENAME\n\nStrip non-directory suffix from FILENAME\n",
    "tee": "Usage: tee [-ai] [FILE]...\n\nCopy stdin to each FILE, and also to stdout\n\n"
           "\t-a\tAppend to the given FILEs, don't overwrite\n"
           "\t-i\tIgnore interrupt signals (SIGINT)\n",
    "egrep": "No help available\n",
    "fgrep": "No help available\n",
}

# APPLET_NOEXEC (and APPLET_NOFORK, which are NOEXEC too) in busybox 1.35: ash (without
# FEATURE_SH_NOFORK) forks and runs them without exec (set_task_comm)
NOEXEC_APPLETS = frozenset(("insmod", "rmmod", "lsmod", "modprobe", "modinfo", "ls", "head", "cat",
                            "stat", "sort", "cut", "seq", "basename", "dirname", "dd",
                            "mknod", "grep", "egrep", "fgrep", "ps"))

# `busybox --list` of Debian's busybox-static 1.35 (the guest's /bin), for honest messages
BUSYBOX_APPLETS = frozenset("""
[ [[ acpid adjtimex ar arch arp arping ascii ash awk base64 basename bc blkdiscard blockdev
brctl bunzip2 busybox bzcat bzip2 cal cat chgrp chmod chown chroot chvt clear cmp cp cpio
crc32 crond crontab cttyhack cut date dc dd deallocvt depmod devmem df diff dirname dmesg
dnsdomainname dos2unix dpkg dpkg-deb du dumpkmap dumpleases echo ed egrep env expand expr
factor fallocate false fatattr fdisk fgrep find findfs fold free freeramdisk fsfreeze fstrim
ftpget ftpput getopt getty grep groups gunzip gzip halt head hexdump hostid hostname httpd
hwclock i2cdetect i2cdump i2cget i2cset i2ctransfer id ifconfig ifdown ifup init insmod ionice
ip ipcalc ipneigh kill killall klogd last less link linux32 linux64 linuxrc ln loadfont
loadkmap logger login logname logread losetup ls lsmod lsscsi lzcat lzma lzop md5sum mdev
microcom mim mkdir mkdosfs mke2fs mkfifo mknod mkpasswd mkswap mktemp modinfo modprobe more
mount mt mv nameif nc netstat nl nologin nproc nsenter nslookup nuke od openvt partprobe
passwd paste patch pidof ping ping6 pivot_root poweroff printf ps pwd rdate readlink realpath
reboot renice reset resume rev rm rmdir rmmod route rpm rpm2cpio run-init run-parts sed seq
setkeycodes setpriv setsid sh sha1sum sha256sum sha3sum sha512sum shred shuf sleep sort
ssl_client start-stop-daemon stat strings stty su sulogin svc svok swapoff swapon switch_root
sync sysctl syslogd tac tail tar taskset tc tee telnet telnetd test tftp time timeout top
touch tr traceroute traceroute6 true truncate ts tty tunctl ubirename udhcpc udhcpd uevent
umount uname uncompress unexpand uniq unix2dos unlink unlzma unshare unxz unzip uptime usleep
uudecode uuencode vconfig vi w watch watchdog wc wget which who whoami xargs xxd xz xzcat yes
zcat""".split())
