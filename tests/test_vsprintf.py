"""The kernel's vsnprintf and printk records, against the rules of Linux 6.1's C code.

Expected strings are worked out by hand from lib/vsprintf.c (number(), format_decode(),
pointer() and friends) and kernel/printk/printk.c. Where the kernel and glibc agree, a
table of integer and string formats is also checked against the C library's snprintf;
where they differ, the kernel's answer is asserted (and glibc's, to show the difference).
"""

import ctypes
import ctypes.util
import struct

import pytest

from linker.loglevels import KERN_CONT, KERN_DEBUG, KERN_ERR, KERN_INFO

from emulator.kapi.printk_format import (LOG_CONT,
                                         LOG_NEWLINE, PrintkCall, PrintkLog, busybox_dmesg,
                                         console_lines, format_syslog, record_print_text,
                                         split_level, store_calls, syslog_read_all, vprintk)
from emulator.kapi.vsprintf import (I386, X86_64, ListArgs, MemoryFault, errname, hash_long,
                                    kallsyms_text, siphash, siphash_1u32, siphash_1u64,
                                    vsnprintf)


class FakeMemory:
    """Memory made of a few byte strings at fixed addresses; anything else faults."""

    def __init__(self, regions):
        self.regions = dict(regions)

    def _find(self, addr):
        for base, data in self.regions.items():
            if base <= addr < base + len(data):
                return base, data
        raise MemoryFault(addr)

    def read(self, addr, size):
        out = bytearray()
        while len(out) < size:
            base, data = self._find(addr + len(out))
            off = addr + len(out) - base
            out += data[off:off + size - len(out)]
        return bytes(out)

    def read_cstring(self, addr, limit=4096):
        out = bytearray()
        while len(out) < limit:
            byte = self.read(addr + len(out), 1)
            if byte == b"\0":
                break
            out += byte
        return bytes(out)


def err_ptr(err, bits=64):
    return err & ((1 << bits) - 1)


def le64(*values):
    return b"".join(struct.pack("<Q", v & (1 << 64) - 1) for v in values)


STR = 0xFFFF888000001000
ABC = 0xFFFF88800000AFFD            # "abc" right before unmapped memory: no NUL
HEXBUF = 0xFFFF888000002000
MAC = 0xFFFF888000003000
IP4 = 0xFFFF888000003010
IP6 = 0xFFFF888000003020
IP6MAPPED = 0xFFFF888000003040
SIN = 0xFFFF888000003060
SIN6 = 0xFFFF888000003080
SUNIX = 0xFFFF8880000030C0
UUID = 0xFFFF888000004000
PHYS = 0xFFFF888000005000
DMA = 0xFFFF888000005008
NETDEV = 0xFFFF888000005010
FOURCC = 0xFFFF888000005018
FOURCC_BE = 0xFFFF88800000501C
GFP = 0xFFFF888000005020
TIME64 = 0xFFFF888000005028
TIME0 = 0xFFFF888000005030
TIMENEG = 0xFFFF888000005038
RTC = 0xFFFF888000005040
MEMRES = 0xFFFF888000006000
IORES = 0xFFFF888000006040
IRQRES = 0xFFFF888000006080
UNSETRES = 0xFFFF8880000060C0
BITMAP = 0xFFFF888000007000
ESC = 0xFFFF888000008000
NULS = 0xFFFF888000008010
QUOTES = 0xFFFF888000008020
VAF = 0xFFFF888000009000
VAFMT = 0xFFFF888000009100
VALIST = 0xFFFF888000009200
RSA = 0xFFFF888000009300
OVF = 0xFFFF888000009400
UNMAPPED = 0xFFFF888000100000

IP6_BYTES = bytes.fromhex("20010db8000000000000000000000001")


def resource(start, end, flags):
    return le64(start, end, 0, flags, 0, 0, 0, 0)


MEM = FakeMemory({
    STR: b"hello\0",
    ABC: b"abc",
    HEXBUF: bytes(range(100)),
    MAC: bytes.fromhex("001a2b3c4d5e"),
    IP4: bytes([192, 168, 1, 10]),
    IP6: IP6_BYTES,
    IP6MAPPED: bytes(10) + b"\xff\xff" + bytes([192, 168, 1, 10]),
    SIN: struct.pack("<H", 2) + struct.pack(">H", 8080) + bytes([192, 168, 1, 10]) + bytes(8),
    SIN6: struct.pack("<H", 10) + struct.pack(">H", 443) + struct.pack(">I", 0x12345)
    + IP6_BYTES + struct.pack("<I", 3),
    SUNIX: struct.pack("<H", 1) + bytes(30),
    UUID: bytes(range(16)),
    PHYS: le64(0x12345678, 0xDEADBEEF, 0x1234),
    FOURCC: struct.pack("<II", 0x34325659, 0xB4325659) + struct.pack("<I", 0xCC0) + bytes(4)
    + le64(1700000000, 0, -1),
    RTC: struct.pack("<9i", 5, 4, 3, 2, 0, 124, 2, 1, 0),
    MEMRES: resource(0xFE000000, 0xFE0FFFFF, 0x200 | 0x2000 | 0x100000),
    IORES: resource(0x3F8, 0x3FF, 0x100),
    IRQRES: resource(5, 5, 0x400),
    UNSETRES: resource(0, 0xFFF, 0x200 | 0x20000000),
    BITMAP: le64(0xAB000000F0, 0),
    ESC: b"a\nb\x01\xff\"\\",
    NULS: b"a\0b",
    QUOTES: b"\"\\",
    VAF: le64(VAFMT, VALIST),
    VAFMT: b"%d/%d/%d/%d/%d/%d/%s\0",
    VALIST: struct.pack("<IIQQ", 16, 48, OVF, RSA),
    RSA: le64(0xBAD, 0xBAD, 1, 2, 3, 4),
    OVF: le64(5, 6, STR),
})


def fmt(text, *args, mem=MEM, **kw):
    """The untruncated output of the kernel's vsnprintf, as text."""
    return vsnprintf(text.encode(), ListArgs(args), mem, **kw).text.decode("latin-1")


# ---------------------------------------------------------------------------- integers

INTEGERS = [
    ("%d", [42], "42"),
    ("%d", [-42], "-42"),
    ("%d", [0xFFFFFFFF], "-1"),                 # int is 32 bits
    ("%d", [0x1_0000_0005], "5"),              # garbage above an int's 32 bits is ignored
    ("%i", [7], "7"),
    ("%u", [-1], "4294967295"),
    ("%lu", [-1], "18446744073709551615"),
    ("%ld", [-1], "-1"),
    ("%llu", [-1], "18446744073709551615"),
    ("%lld", [-5], "-5"),
    ("%Ld", [-5], "-5"),
    ("%zu", [-1], "18446744073709551615"),
    ("%zd", [-1], "-1"),
    ("%td", [-1], "-1"),
    ("%tu", [-1], "18446744073709551615"),
    ("%hhd", [300], "44"),
    ("%hhd", [200], "-56"),
    ("%hhu", [-1], "255"),
    ("%hd", [70000], "4464"),
    ("%hu", [-1], "65535"),
    ("%hx", [0x12345], "2345"),
    ("%x", [-1], "ffffffff"),
    ("%lx", [-1], "ffffffffffffffff"),
    ("%X", [0xBEEF], "BEEF"),
    ("%o", [8], "10"),
    ("%#o", [8], "010"),
    ("%#o", [0], "0"),                          # no "0" prefix for zero
    ("%#x", [0], "0x0"),                        # but "0x" even for zero
    ("%#X", [255], "0XFF"),
    ("%#010x", [42], "0x0000002a"),
    ("%#5x", [1], "  0x1"),
    ("%-8x|", [255], "ff      |"),
    ("%08x", [0xBEEF], "0000beef"),
    ("%5d", [42], "   42"),
    ("%-5d|", [42], "42   |"),
    ("%05d", [-42], "-0042"),
    ("%-05d|", [3], "3    |"),                  # '-' beats '0'
    ("%+d", [5], "+5"),
    ("%+d", [-5], "-5"),
    ("% d", [5], " 5"),
    ("%+ d", [5], "+5"),
    ("%+u", [5], "5"),                          # signs only for %d/%i
    ("%.3d", [5], "005"),
    ("%08.3d", [5], "00000005"),                # zero padding despite the precision
    ("%.0d", [0], "0"),                         # zero digits still print "0"
    ("%*d", [6, 42], "    42"),
    ("%*d", [-6, 42], "42    "),                # negative width: left-justified
    ("%-*d|", [4, 1], "1   |"),
    ("%.*d", [4, 7], "0007"),
    ("%.*d", [-1, 7], "7"),
    ("%16777218d", [5], " 5"),                  # width truncated to the 24-bit field: 2
    ("%.65537d", [5], "5"),                     # precision truncated to 16 bits: 1
    ("%c", [0x41], "A"),
    ("%c", [0x141], "A"),                       # (unsigned char)
    ("%3c", [0x41], "  A"),
    ("%-3c|", [0x41], "A  |"),
    ("%05c", [0x41], "    A"),                  # '0' does not pad characters
    ("%%", [], "%"),
    ("%5%", [], "%"),
    ("100%%", [], "100%"),
    ("no conversions", [], "no conversions"),
]


@pytest.mark.parametrize("text, args, expected", INTEGERS)
def test_integers_x86_64(text, args, expected):
    assert fmt(text, *args) == expected


INTEGERS_I386 = [
    ("%lu", [-1], "4294967295"),                # long is 32 bits
    ("%ld", [0xFFFFFFFF], "-1"),
    ("%lld", [0xFFFFFFFB, 0xFFFFFFFF], "-5"),   # long long takes two stack slots, low first
    ("%llx", [0x89ABCDEF, 0x01234567], "123456789abcdef"),
    ("%llx %d", [1, 2, 3], "200000001 3"),
    ("%zu", [-1], "4294967295"),
    ("%zd", [-1], "-1"),
    ("%tu", [-1], "18446744073709551615"),      # ptrdiff_t is sign-extended to u64 first
    ("%tx", [-1], "ffffffffffffffff"),
    ("%p", [0], "00000000"),
    ("%px", [0xC1000000], "c1000000"),
    ("%pe", [err_ptr(-12, 32)], "-ENOMEM"),
    ("%s", [err_ptr(-14, 32)], "(efault)"),
    ("%s", [0xFFFFFFF2 | (0xBAD << 32)], "(efault)"),   # only the low 32 bits are the pointer
]


@pytest.mark.parametrize("text, args, expected", INTEGERS_I386)
def test_i386_sizes(text, args, expected):
    assert fmt(text, *args, config=I386) == expected


def test_i386_phys_addr_is_32_bit():
    mem = FakeMemory({0xC1000000: struct.pack("<I", 0x12345678)})
    assert fmt("%pa", 0xC1000000, mem=mem, config=I386) == "0x12345678"


# --------------------------------------------------------------------------- strings

STRINGS = [
    ("%s", [STR], "hello"),
    ("%5.2s", [STR], "   he"),
    ("%-5.2s|", [STR], "he   |"),
    ("%8s", [STR], "   hello"),
    ("%08s", [STR], "   hello"),            # strings pad with spaces only
    ("%.*s", [3, STR], "hel"),
    ("%.s", [STR], "hello"),                # a lone '.' is no precision at all
    ("%.*s", [-1, STR], ""),                # a negative precision becomes 0
    ("%.0s", [ABC], ""),                  # precision 0 reads nothing
    ("%s", [0], "(null)"),
    ("%8s", [0], "  (null)"),
    ("%.3s", [0], "(nu"),                   # the precision applies to "(null)" too
    ("%s", [0x10], "(efault)"),             # below PAGE_SIZE
    ("%s", [0xFFF], "(efault)"),
    ("%s", [err_ptr(-14)], "(efault)"),     # ERR_PTR
    ("%ls", [STR], "hello"),                # qualifiers mean nothing to %s
    ("[%s|%s]", [STR, 0], "[hello|(null)]"),
]


@pytest.mark.parametrize("text, args, expected", STRINGS)
def test_strings(text, args, expected):
    assert fmt(text, *args) == expected


def test_string_read_stops_at_precision_before_unmapped_memory():
    assert fmt("%.3s", ABC) == "abc"


def test_faulting_string_pointer_oopses_by_default():
    # 6.1 dereferences any pointer above PAGE_SIZE that is not an ERR_PTR: a page fault
    with pytest.raises(MemoryFault) as info:
        fmt("%s", UNMAPPED)
    assert info.value.addr == UNMAPPED
    with pytest.raises(MemoryFault):
        fmt("%s", ABC)       # faults after "abc"


def test_faulting_string_pointer_prints_efault_on_request():
    cfg = X86_64.replace(on_fault="efault")
    assert fmt("[%s]", UNMAPPED, config=cfg) == "[(efault)]"
    assert fmt("[%10s]", ABC, config=cfg) == "[  (efault)]"
    assert fmt("%*ph", 4, UNMAPPED, config=cfg) == "(efault)"


def test_faulting_pointer_of_another_exception_class():
    class OtherFault(Exception):
        pass

    class Mem:
        def read(self, addr, size):
            raise OtherFault

        def read_cstring(self, addr, limit=4096):
            raise OtherFault

    cfg = X86_64.replace(on_fault="efault", fault_types=(MemoryFault, OtherFault))
    assert fmt("%s", STR, mem=Mem(), config=cfg) == "(efault)"


# --------------------------------------------------------------------- bad conversions

def test_unknown_conversion_stops_output_and_warns():
    warnings = []
    assert fmt("a%yb%d", 1, warn=warnings.append) == "a"
    assert warnings == ["Please remove unsupported %y in format string"]


@pytest.mark.parametrize("text, args, expected", [
    ("%jd", [1], ""),                       # no 'j' qualifier in the kernel
    ("x%n", [0], "x"),                      # %n is refused
    ("%f", [0], ""),
    ("%d%", [1], "1"),                      # a lone '%' at the end
    ("%5", [1], ""),
    ("%hhhd", [1], ""),                     # 'hh' then 'h' as the conversion
    ("%lld|%zzd", [1, 2], "1|"),
])
def test_invalid_conversions_stop(text, args, expected):
    assert fmt(text, *args) == expected


def test_oversized_star_precision_is_clamped_with_a_warning():
    warnings = []
    out = fmt("%.*d", 40000, 1, warn=warnings.append)
    assert out == "0" * 32766 + "1"
    assert warnings == ["precision 40000 too large"]


def test_oversized_star_width_is_clamped_with_a_warning():
    warnings = []
    out = fmt("%*d", -(1 << 30), 1, warn=warnings.append)
    assert out == "1" + " " * ((1 << 23) - 2)
    assert warnings == [f"field width {-(1 << 30)} too large"]


def test_nul_in_format_ends_it():
    assert fmt("ab\0%d", 1) == "ab"


# ------------------------------------------------------------------------ truncation

def test_truncation_to_size():
    r = vsnprintf(b"hello world", ListArgs([]), None, size=5)
    assert (r.text, r.length, r.written, r.buffer) == (b"hell", 11, 4, b"hell\0")


def test_result_unpacks_as_text_and_length():
    text, length = vsnprintf(b"%s!", ListArgs([STR]), MEM, size=4)
    assert (text, length) == (b"hel", 6)


def test_truncation_size_zero_and_one():
    r = vsnprintf(b"hello", ListArgs([]), None, size=0)
    assert (r.text, r.length, r.written, r.buffer) == (b"", 5, 0, b"")
    r = vsnprintf(b"hello", ListArgs([]), None, size=1)
    assert (r.text, r.length, r.written, r.buffer) == (b"", 5, 0, b"\0")


def test_truncation_exact_fit_and_unlimited():
    r = vsnprintf(b"%d", ListArgs([12345]), None, size=6)
    assert (r.text, r.length, r.buffer) == (b"12345", 5, b"12345\0")
    r = vsnprintf(b"%d", ListArgs([12345]), None)
    assert (r.text, r.length, r.buffer) == (b"12345", 5, b"12345\0")


def test_truncation_inside_a_padded_field():
    r = vsnprintf(b"%8s|", ListArgs([STR]), MEM, size=5)
    assert (r.text, r.length) == (b"   h", 9)


def test_size_above_int_max_writes_nothing():
    warnings = []
    r = vsnprintf(b"hello", ListArgs([]), None, size=1 << 31, warn=warnings.append)
    assert (r.text, r.length, r.buffer) == (b"", 0, b"")
    assert warnings


# --------------------------------------------------------------------------- %p

TEST_KEY = bytes(range(16))                 # lib/test_siphash.c's key


def test_siphash_matches_the_kernel_test_vectors():
    assert siphash(b"", TEST_KEY) == 0x726FDB47DD0E0E31
    assert siphash(bytes(range(15)), TEST_KEY) == 0xA129CA6149BE45E5
    assert siphash_1u64(0x0706050403020100, TEST_KEY) == 0x93F5F5799A932462
    assert siphash_1u32(0x03020100, TEST_KEY) == 0xCF2794E0277187B7


def test_plain_p_is_the_low_32_bits_of_siphash():
    cfg = X86_64.replace(ptr_key=TEST_KEY)
    assert fmt("%p", 0x0706050403020100, config=cfg) == "000000009a932462"
    cfg32 = I386.replace(ptr_key=TEST_KEY)
    assert fmt("%p", 0x03020100, config=cfg32) == "277187b7"


def test_plain_p_default_key_is_stable_and_hashed():
    out = fmt("%p", 0xFFFF888012345678)
    assert len(out) == 16 and out.startswith("00000000") and out != "ffff888012345678"
    assert fmt("%p", 0xFFFF888012345678) == out
    assert fmt("%pK", 0xFFFF888012345678) == out        # kptr_restrict 0
    assert fmt("%pe", 0xFFFF888012345678) == out        # not an ERR_PTR
    assert fmt("%pF", 0xFFFF888012345678) == out        # %pF is gone: plain %p
    assert fmt("%pZ", 0xFFFF888012345678) == out        # unknown extension
    assert fmt("%pd", 0xFFFF888012345678) == out        # no object_name callback


@pytest.mark.parametrize("text, args, expected", [
    ("%p", [0], "0000000000000000"),                    # NULL and ERR_PTRs are not hashed
    ("%p", [err_ptr(-12)], "fffffffffffffff4"),
    ("%px", [0xFFFF888012345678], "ffff888012345678"),
    ("%px", [0x1234], "0000000000001234"),
    ("%20px|", [0x1234], "                1234|"),   # an explicit width drops the zero pad
    ("%020px|", [0x1234], "00000000000000001234|"),
    ("%-px|", [0x1234], "1234            |"),
    ("[%pM0]", [MAC], "[00:1a:2b:3c:4d:5e]"),        # letters and digits after %p are eaten
])
def test_pointer_values(text, args, expected):
    assert fmt(text, *args) == expected


def test_pointer_hash_key_not_ready():
    cfg = X86_64.replace(ptr_key=None)
    assert fmt("%p", 0xFFFF888012345678, config=cfg) == "(____ptrval____)"
    assert fmt("%p", 0, config=cfg) == "0000000000000000"
    assert fmt("%p", 0xC1000000, config=I386.replace(ptr_key=None)) == "(ptrval)"


def test_no_hash_pointers_and_weak_hash():
    assert fmt("%p", 0xFFFF888012345678,
               config=X86_64.replace(no_hash_pointers=True)) == "ffff888012345678"
    weak = ((0xFFFF888012345678 * 0x61C8864680B583EB) % (1 << 64)) >> 32
    assert hash_long(0xFFFF888012345678, 32) == weak
    assert fmt("%p", 0xFFFF888012345678,
               config=X86_64.replace(debug_boot_weak_hash=True)) == "%016x" % weak


@pytest.mark.parametrize("changes, expected", [
    (dict(kptr_restrict=2), "0000000000000000"),
    (dict(kptr_restrict=1), "ffff888012345678"),                # root with CAP_SYSLOG
    (dict(kptr_restrict=1, cap_syslog=False), "0000000000000000"),
    (dict(kptr_restrict=1, in_irq=True), "        pK-error"),
])
def test_restricted_pointer(changes, expected):
    assert fmt("%pK", 0xFFFF888012345678, config=X86_64.replace(**changes)) == expected


@pytest.mark.parametrize("err, expected", [
    (-12, "-ENOMEM"),
    (-1, "-EPERM"),
    (-11, "-EAGAIN"),
    (-35, "-EDEADLK"),
    (-133, "-EHWPOISON"),
    (-512, "-ERESTARTSYS"),
    (-517, "-EPROBE_DEFER"),
    (-524, "-ENOTSUPP"),
    (-530, "-ERECALLCONFLICT"),
    (-531, "-531"),             # ENOGRACE has no name in lib/errname.c
    (-41, "-41"),
    (-1234, "-1234"),
    (-4095, "-4095"),
])
def test_error_pointer_names(err, expected):
    assert fmt("%pe", err_ptr(err)) == expected


def test_error_pointer_width_and_errname():
    assert fmt("%10pe|", err_ptr(-12)) == "   -ENOMEM|"
    assert fmt("%-10pe|", err_ptr(-1234)) == "-1234     |"
    assert errname(5) == "EIO" and errname(-5) == "-EIO" and errname(520) is None


SYMBOLS = [  # start, size, name, module
    (0xFFFFFFFFC0201000, 0x2C, "my_init", "hello"),
    (0xFFFFFFFFC020102C, 0x10, "my_exit", "hello"),
    (0xFFFFFFFF81000000, 0x40, "_printk", None),
]


def fake_symbolize(addr, with_offset):
    for start, size, name, module in SYMBOLS:
        if start <= addr < start + size:
            return kallsyms_text(name, addr - start, size, module, with_offset=with_offset)
    return None


@pytest.mark.parametrize("text, addr, expected", [
    ("%pS", 0xFFFFFFFFC0201011, "my_init+0x11/0x2c [hello]"),
    ("%ps", 0xFFFFFFFFC0201011, "my_init [hello]"),
    ("%pSR", 0xFFFFFFFFC0201011, "my_init+0x11/0x2c [hello]"),
    ("%pSb", 0xFFFFFFFFC0201011, "my_init+0x11/0x2c [hello]"),   # no build IDs on Debian
    ("%pS", 0xFFFFFFFFC020102C, "my_exit+0x0/0x10 [hello]"),
    ("%pB", 0xFFFFFFFFC020102C, "my_init+0x2c/0x2c [hello]"),    # a return address: addr-1
    ("%pB", 0xFFFFFFFFC0201011, "my_init+0x11/0x2c [hello]"),
    ("%pS", 0xFFFFFFFF81000010, "_printk+0x10/0x40"),
    ("%ps", 0xFFFFFFFF81000010, "_printk"),
    ("%pS", 0xFFFFFFFFC0301011, "0xffffffffc0301011"),            # no symbol there
    ("%pB", 0xFFFFFFFFC0301011, "0xffffffffc0301011"),
    ("%pS", 0, "0x0"),                                            # not pointer-checked
    ("%30pS|", 0xFFFFFFFFC0201011, "     my_init+0x11/0x2c [hello]|"),
    ("%.7pS", 0xFFFFFFFFC0201011, "my_init"),
])
def test_symbols(text, addr, expected):
    assert fmt(text, addr, symbolize=fake_symbolize) == expected


def test_symbols_without_symbolize_print_the_address():
    assert fmt("%pS", 0xFFFFFFFFC0201011) == "0xffffffffc0201011"


@pytest.mark.parametrize("text, args, expected", [
    ("%*ph", [8, HEXBUF], "00 01 02 03 04 05 06 07"),
    ("%*phC", [4, HEXBUF], "00:01:02:03"),
    ("%*phD", [4, HEXBUF], "00-01-02-03"),
    ("%*phN", [4, HEXBUF], "00010203"),
    ("%ph", [HEXBUF], "00"),                        # no width: one byte
    ("%*ph", [0, HEXBUF], ""),
    ("%*ph", [-3, HEXBUF], "00 01 02"),
    ("%4ph|", [HEXBUF], "00 01 02 03|"),
    ("%*ph", [8, 0], "  (null)"),           # the byte count widens the error text
    ("%*ph", [8, 0x20], "(efault)"),
])
def test_hex_buffers(text, args, expected):
    assert fmt(text, *args) == expected


def test_hex_buffer_is_capped_at_64_bytes():
    assert fmt("%*ph", 100, HEXBUF) == " ".join("%02x" % i for i in range(64))


@pytest.mark.parametrize("text, addr, expected", [
    ("%pM", MAC, "00:1a:2b:3c:4d:5e"),
    ("%pMR", MAC, "5e:4d:3c:2b:1a:00"),
    ("%pMF", MAC, "00-1a-2b-3c-4d-5e"),
    ("%pm", MAC, "001a2b3c4d5e"),
    ("%pmR", MAC, "5e4d3c2b1a00"),
    ("%20pM|", MAC, "   00:1a:2b:3c:4d:5e|"),
    ("%pM", 0, "(null)"),
    ("%pI4", IP4, "192.168.1.10"),
    ("%pi4", IP4, "192.168.001.010"),
    ("%pI4h", IP4, "10.1.168.192"),
    ("%pI4l", IP4, "10.1.168.192"),
    ("%pI4n", IP4, "192.168.1.10"),
    ("%-15pI4|", IP4, "192.168.1.10   |"),
    ("%pI", IP4, "(%pI?)"),
    ("%pi", IP4, "(%pi?)"),
    ("%pI4", 0, "(null)"),
    ("%pI6", IP6, "2001:0db8:0000:0000:0000:0000:0000:0001"),
    ("%pi6", IP6, "20010db8000000000000000000000001"),
    ("%pI6c", IP6, "2001:db8::1"),
    ("%pI6c", IP6MAPPED, "::ffff:192.168.1.10"),
    ("%pISp", SIN, "192.168.1.10:8080"),
    ("%pIS", SIN, "192.168.1.10"),
    ("%piS", SIN, "192.168.001.010"),
    ("%pISpc", SIN6, "[2001:db8::1]:443"),
    ("%pISc", SIN6, "2001:db8::1"),
    ("%pISpfsc", SIN6, "[2001:db8::1]:443/74565%3"),
    ("%pIS", SIN6, "2001:0db8:0000:0000:0000:0000:0000:0001"),
    ("%pIS", SUNIX, "(einval)"),
    ("%pUb", UUID, "00010203-0405-0607-0809-0a0b0c0d0e0f"),
    ("%pU", UUID, "00010203-0405-0607-0809-0a0b0c0d0e0f"),
    ("%pUB", UUID, "00010203-0405-0607-0809-0A0B0C0D0E0F"),
    ("%pUl", UUID, "03020100-0504-0706-0809-0a0b0c0d0e0f"),
    ("%pUL", UUID, "03020100-0504-0706-0809-0A0B0C0D0E0F"),
    ("%pU", 0, "(null)"),
    ("%pa", PHYS, "0x0000000012345678"),
    ("%pap", PHYS, "0x0000000012345678"),
    ("%pad", DMA, "0x00000000deadbeef"),
    ("%20pa|", PHYS, "0x0000000012345678|"),          # width ignored
    ("%pa", 0, "(null)"),
    ("%pNF", NETDEV, "0x0000000000001234"),
    ("%pN", NETDEV, "(%pN?)"),
    ("%p4cc", FOURCC, "YV24 little-endian (0x34325659)"),
    ("%p4cc", FOURCC_BE, "YV24 big-endian (0xb4325659)"),
    ("%p4", FOURCC, "(%p4?)"),
    ("%pks", STR, "hello"),
    ("%pus", STR, "hello"),
    ("%pks", 0, "(null)"),
    ("%pkx", STR, "(einval)"),
    ("%pf", STR, "(%pf?)"),
    ("%pO", STR, "(%pO?)"),
    ("%pOF", STR, "(%pOF?)"),                          # no CONFIG_OF
    ("%pGg", GFP, "0xcc0"),
    ("%pGx", GFP, "(%pG?)"),
    ("%pd", 0, "(null)"),
])
def test_pointer_extensions(text, addr, expected):
    assert fmt(text, addr) == expected


@pytest.mark.parametrize("words, expected", [
    ("0 0 0 0 0 0 0 0", "::"),
    ("2001 db8 0 1 1 1 1 1", "2001:db8:0:1:1:1:1:1"),   # a single 0 is not compressed
    ("2001 0 0 1 0 0 1 1", "2001::1:0:0:1:1"),          # the first longest run wins
    ("1 0 0 0 0 0 0 0", "1::"),
    ("fe80 0 0 0 200 5efe c0a8 10a", "fe80::200:5efe:192.168.1.10"),     # ISATAP
])
def test_ipv6_compression(words, expected):
    mem = FakeMemory({0x10000: b"".join(int(w, 16).to_bytes(2, "big") for w in words.split())})
    assert fmt("%pI6c", 0x10000, mem=mem) == expected


@pytest.mark.parametrize("text, args, expected", [
    ("%*pE", [5, ESC], b"a\\nb\\001\xff"),             # ESCAPE_ANY_NP by default
    ("%*pE", [7, ESC], b"a\\nb\\001\xff\"\\"),          # printable: passed before 'special'
    ("%pE", [ESC], b"a"),                               # no width: one byte
    ("%*pE", [0, ESC], b""),
    ("%*pEh", [2, ESC], b"\\x61\\x0a"),
    ("%*pEs", [3, ESC], b"a\\nb"),
    ("%*pEo", [2, ESC], b"\\141\\012"),
    ("%*pEp", [4, ESC], b"a\nb\x01"),                   # NP alone escapes nothing
    ("%*pEn", [3, NULS], b"a\\0b"),
    ("%*pEc", [2, QUOTES], b"\\\"\\\\"),
    ("%*pE", [3, 0], b"(null)"),
])
def test_escaped_strings(text, args, expected):
    assert vsnprintf(text.encode(), ListArgs(args), MEM).text == expected


@pytest.mark.parametrize("text, addr, expected", [
    ("%ptT", TIME64, "2023-11-14T22:13:20"),
    ("%ptTd", TIME64, "2023-11-14"),
    ("%ptTt", TIME64, "22:13:20"),
    ("%ptTs", TIME64, "2023-11-14 22:13:20"),
    ("%ptT", TIME0, "1970-01-01T00:00:00"),
    ("%ptT", TIMENEG, "1969-12-31T23:59:59"),
    ("%ptR", RTC, "2024-01-02T03:04:05"),
    ("%ptRr", RTC, "0124-00-02T03:04:05"),
    ("%ptRdr", RTC, "0124-00-02"),
    ("%pt", RTC, "(%pt?)"),
    ("%ptR", 0, "(null)"),
])
def test_time_and_date(text, addr, expected):
    assert fmt(text, addr) == expected


@pytest.mark.parametrize("text, addr, expected", [
    ("%pR", MEMRES, "[mem 0xfe000000-0xfe0fffff 64bit pref]"),
    ("%pr", MEMRES, "[mem 0xfe000000-0xfe0fffff flags 0x102200]"),
    ("%pR", IORES, "[io  0x03f8-0x03ff]"),
    ("%pR", IRQRES, "[irq 5]"),
    ("%pR", UNSETRES, "[mem size 0x00001000]"),
    ("%pr", UNSETRES, "[mem 0x00000000-0x00000fff flags 0x20000200]"),
])
def test_resources(text, addr, expected):
    assert fmt(text, addr) == expected


@pytest.mark.parametrize("text, args, expected", [
    ("%*pb", [40, BITMAP], "ab,000000f0"),
    ("%*pbl", [40, BITMAP], "4-7,32-33,35,37,39"),
    ("%*pb", [8, BITMAP], "f0"),
    ("%*pbl", [6, BITMAP], "4-5"),
    ("%pb", [BITMAP], ""),                      # the width is the bit count
])
def test_bitmaps(text, args, expected):
    assert fmt(text, *args) == expected


def test_rust_argument_warns():
    warnings = []
    assert fmt("%pA", STR, warn=warnings.append) == "(%pA?)"
    assert warnings == ["Please remove %pA from non-Rust code"]


def test_object_names_come_from_the_callback():
    def object_name(ext, addr):
        return {b"d": "myfile", b"D2": "dir/myfile", b"g": "sda1", b"C": "osc"}.get(ext)

    assert fmt("%pd", STR, object_name=object_name) == "myfile"
    assert fmt("%pD2", STR, object_name=object_name) == "dir/myfile"
    assert fmt("%8pg|", STR, object_name=object_name) == "    sda1|"
    assert fmt("%pC", STR, object_name=object_name) == "osc"


def test_va_format_through_the_callback():
    def va_format(addr):
        assert addr == VAF
        return b"%s-%d", ListArgs([STR, 7])

    assert fmt("[%pV]", VAF, va_format=va_format) == "[hello-7]"
    assert fmt("[%pV]", 0, va_format=va_format) == "[(null)]"


def test_va_format_from_memory_x86_64():
    # struct va_format -> "%d/%d/%d/%d/%d/%d/%s"; its va_list has used 2 of 6 registers
    assert fmt("<%pV>", VAF) == "<1/2/3/4/5/6/hello>"


def test_va_format_from_memory_i386():
    base = 0xC1000000
    mem = FakeMemory({
        base: struct.pack("<II", base + 0x100, base + 0x200),        # fmt, va_list *
        base + 0x100: b"%d %d %lld %s\0",
        base + 0x200: struct.pack("<I", base + 0x300),                 # va_list: char *
        base + 0x300: struct.pack("<IIIII", 1, 2, 0xFFFFFFFD, 0xFFFFFFFF, base + 0x400),
        base + 0x400: b"x\0",
    })
    assert fmt("%pV", base, mem=mem, config=I386) == "1 2 -3 x"


def test_va_format_nested_truncation():
    r = vsnprintf(b"ab%pV-cd", ListArgs([VAF]), MEM, size=8,
                  va_format=lambda addr: (b"%d", ListArgs([123456789])))
    assert (r.text, r.length) == (b"ab12345", 14)
    # letters right after %pV belong to the conversion: "cd" is swallowed
    r = vsnprintf(b"ab%pVcd", ListArgs([VAF]), MEM,
                  va_format=lambda addr: (b"%d", ListArgs([123456789])))
    assert r.text == b"ab123456789"


# ------------------------------------------------------------------- glibc cross-check

def _libc():
    name = ctypes.util.find_library("c")
    if name is None:
        pytest.skip("no C library to compare with")
    libc = ctypes.CDLL(name)
    if struct.calcsize("P") != 8:
        pytest.skip("the comparison table assumes LP64")
    return libc


def libc_snprintf(text, *cargs):
    libc = _libc()
    buf = ctypes.create_string_buffer(256)
    libc.snprintf(buf, 256, text.encode(), *cargs)
    return buf.value.decode("latin-1")


I, L, LL, SZ = ctypes.c_int, ctypes.c_long, ctypes.c_longlong, ctypes.c_size_t
HELLO = ctypes.c_char_p(b"hello")

AGREE = [  # format, C arguments, our arguments
    ("%d", [I(42)], [42]),
    ("%5d", [I(42)], [42]),
    ("%-5d|", [I(42)], [42]),
    ("%05d", [I(-42)], [-42]),
    ("%+d", [I(5)], [5]),
    ("% d", [I(5)], [5]),
    ("%i", [I(-7)], [-7]),
    ("%u", [I(-1)], [-1]),
    ("%x", [I(0xBEEF)], [0xBEEF]),
    ("%X", [I(0xBEEF)], [0xBEEF]),
    ("%#x", [I(255)], [255]),
    ("%#o", [I(8)], [8]),
    ("%o", [I(8)], [8]),
    ("%08x", [I(0xBEEF)], [0xBEEF]),
    ("%#010x", [I(42)], [42]),
    ("%-8x|", [I(255)], [255]),
    ("%.3d", [I(5)], [5]),
    ("%hhd", [I(300)], [300]),
    ("%hd", [I(70000)], [70000]),
    ("%hhu", [I(-1)], [-1]),
    ("%lu", [L(-1)], [-1]),
    ("%ld", [L(-1)], [-1]),
    ("%lld", [LL(-5)], [-5]),
    ("%llx", [LL(-1)], [-1]),
    ("%zu", [SZ(12345)], [12345]),
    ("%c", [I(65)], [65]),
    ("%3c", [I(65)], [65]),
    ("%-3c|", [I(65)], [65]),
    ("%%", [], []),
    ("%*d", [I(6), I(42)], [6, 42]),
    ("%-*d|", [I(4), I(1)], [4, 1]),
    ("%s", [HELLO], [STR]),
    ("%5.2s", [HELLO], [STR]),
    ("%-6s|", [HELLO], [STR]),
    ("%.3s", [HELLO], [STR]),
]


@pytest.mark.parametrize("text, cargs, args", AGREE)
def test_agrees_with_glibc(text, cargs, args):
    assert fmt(text, *args) == libc_snprintf(text, *cargs)


@pytest.mark.parametrize("text, cargs, args, kernel, glibc", [
    ("%#x", [I(0)], [0], "0x0", "0"),
    ("%.0d", [I(0)], [0], "0", ""),
    ("%08.3d", [I(5)], [5], "00000005", "     005"),
    ("%.s", [HELLO], [STR], "hello", ""),
    ("%.*s", [I(-1), HELLO], [-1, STR], "", "hello"),
])
def test_differs_from_glibc(text, cargs, args, kernel, glibc):
    assert fmt(text, *args) == kernel
    assert libc_snprintf(text, *cargs) == glibc


# --------------------------------------------------------------------- printk records

@pytest.mark.parametrize("text, expected", [
    (b"\x013hello", (3, False, b"hello")),
    (b"\x01chello", (None, True, b"hello")),
    (b"hello", (None, False, b"hello")),
    (b"\x01c\x016x", (6, True, b"x")),
    (b"\x016\x013x", (6, False, b"x")),          # the first level wins
    (b"\x018x", (None, False, b"\x018x")),       # not a level
    (b"\x01", (None, False, b"\x01")),
    (b"", (None, False, b"")),
])
def test_split_level(text, expected):
    assert split_level(text) == expected


def test_one_record_per_call_with_levels():
    records = store_calls([
        PrintkCall(KERN_INFO + b"hello: loaded\n", ts_nsec=1_234_567_000, caller_id=100),
        PrintkCall(b"no level\n", ts_nsec=2_000_000_000, caller_id=100),
        PrintkCall(KERN_ERR + b"two\nlines\n", ts_nsec=3_000_001_000, caller_id=100),
    ])
    assert [(r.level, r.text, r.final) for r in records] == [
        (6, b"hello: loaded", True), (4, b"no level", True), (3, b"two\nlines", True)]
    assert all(r.flags == LOG_NEWLINE for r in records)


def test_continuation_appends_to_the_open_record_of_the_same_caller():
    log = PrintkLog()
    log.store(KERN_INFO + b"foo", ts_nsec=1000, caller_id=7)
    assert log.readable() == []                  # not finalized yet
    assert log.store(KERN_CONT + b"bar", ts_nsec=2000, caller_id=7) == 3
    log.store(KERN_CONT + b"baz\n", ts_nsec=3000, caller_id=7)
    [record] = log.records
    assert (record.text, record.level, record.ts_nsec) == (b"foobarbaz", 6, 1000)
    assert record.final


def test_continuation_from_another_caller_or_after_a_newline_starts_a_record():
    records = store_calls([
        PrintkCall(KERN_INFO + b"a", caller_id=1),
        PrintkCall(KERN_CONT + b"b\n", caller_id=2),     # another task
        PrintkCall(KERN_CONT + b"c\n", caller_id=2),     # the previous one ended with \n
    ])
    assert [(r.text, r.level, r.flags) for r in records] == [
        (b"a", 6, 0), (b"b", 4, LOG_CONT | LOG_NEWLINE), (b"c", 4, LOG_CONT | LOG_NEWLINE)]
    assert records[0].final                      # finalized by the next record


def test_unterminated_message_is_closed_by_the_next_non_cont_message():
    records = store_calls([PrintkCall(KERN_INFO + b"first", caller_id=1),
                           PrintkCall(KERN_INFO + b"second\n", caller_id=1)])
    assert [r.text for r in records] == [b"first", b"second"]


def test_only_one_trailing_newline_is_stripped_and_dmesg_shows_the_empty_line():
    [record] = store_calls([PrintkCall(KERN_INFO + b"a\n\n", ts_nsec=5_000_000)])
    assert record.text == b"a\n"
    assert format_syslog([record]) == b"[    0.005000] a\n[    0.005000] \n"


def test_long_message_is_truncated_and_loses_its_newline():
    log = PrintkLog()
    assert log.store(b"x" * 2000 + b"\n") == 991              # LOG_LINE_MAX - 1
    assert not log.records[0].final                           # no newline survived


def test_level_comes_from_the_formatted_text():
    mem = FakeMemory({0x5000: KERN_ERR + b"\0", 0x6000: KERN_INFO + b"via %s\0"})
    log = PrintkLog()
    assert vprintk(log, b"%sbad thing %d\n", ListArgs([0x5000, 3]), mem) == 11
    vprintk(log, b"%s\n", ListArgs([0x6000]), mem)
    vprintk(log, b"plain %s\n", ListArgs([STR]), MEM)
    assert [(r.level, r.text) for r in log.records] == [
        (3, b"bad thing 3"), (6, b"via %s"), (4, b"plain hello")]


def test_explicit_level_wins_and_dev_info_terminates():
    log = PrintkLog()
    log.store(KERN_DEBUG + b"dev message", level=3, dev_info=True)
    assert (log.records[0].level, log.records[0].final) == (3, True)
    assert log.records[0].text == b"dev message"


def test_format_syslog_like_busybox_dmesg():
    records = store_calls([
        PrintkCall(KERN_INFO + b"hello: loaded\n", ts_nsec=3_469_591_000),
        PrintkCall(KERN_ERR + b"two\nlines\n", ts_nsec=12_345_678_901_234),
        PrintkCall(KERN_INFO + b"still open", ts_nsec=13_000_000_000),
    ])
    assert format_syslog(records) == (b"[    3.469591] hello: loaded\n"
                                      b"[12345.678901] two\n"
                                      b"[12345.678901] lines\n")
    assert format_syslog(records, raw=True) == (b"<6>[    3.469591] hello: loaded\n"
                                                b"<3>[12345.678901] two\n"
                                                b"<3>[12345.678901] lines\n")
    assert format_syslog(records, include_open=True).endswith(b"[   13.000000] still open\n")
    assert format_syslog([]) == b""
    assert format_syslog(records, printk_time=False) == b"hello: loaded\ntwo\nlines\n"


def test_syslog_facility_prefix_and_size_limit():
    records = store_calls([PrintkCall(b"<user>@@ load x\n", level=4, facility=1),
                           PrintkCall(KERN_INFO + b"kernel\n", ts_nsec=1000)])
    raw = syslog_read_all(records)
    assert raw == b"<12>[    0.000000] <user>@@ load x\n<6>[    0.000001] kernel\n"
    assert busybox_dmesg(raw) == b"[    0.000000] <user>@@ load x\n[    0.000001] kernel\n"
    assert syslog_read_all(records, size=30) == b"<6>[    0.000001] kernel\n"


def test_busybox_adds_a_missing_final_newline():
    assert busybox_dmesg(b"<6>abc") == b"abc\n"
    assert busybox_dmesg(b"<6>abc", raw=True) == b"<6>abc\n"


def test_record_print_text_drops_lines_that_do_not_fit():
    [record] = store_calls([PrintkCall(b"\n".join([b"x" * 10] * 40) + b"\n")])
    text = record_print_text(record, syslog=False, time=True)
    lines = text.split(b"\n")[:-1]
    assert len(lines) == 39 and len(text) == 39 * 26
    assert all(line == b"[    0.000000] " + b"x" * 10 for line in lines)


def test_console_shows_levels_below_console_loglevel():
    records = store_calls([
        PrintkCall(KERN_ERR + b"error\n", ts_nsec=1_000_000),
        PrintkCall(KERN_INFO + b"info\nsecond line\n", ts_nsec=2_000_000),
        PrintkCall(KERN_DEBUG + b"debug\n", ts_nsec=3_000_000),
    ])
    assert console_lines(records, 7) == [b"[    0.001000] error", b"[    0.002000] info",
                                         b"[    0.002000] second line"]
    assert console_lines(records, 3) == []
    assert console_lines(records, 4) == [b"[    0.001000] error"]
    assert len(console_lines(records, 1, ignore_loglevel=True)) == 4
