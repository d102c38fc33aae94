"""The kernel's file layer (emulator.files, k.fs) and module-side file operations
(emulator.fops, kapi.seqfile, kapi.sysfs, kapi.uaccess) against the real kernel's
recordings, plus the Python API (k.open) and the user-copy functions on their own."""

import errno
import struct
from pathlib import Path

import pytest
from conftest import SAMPLES, SHARED
from test_scenarios import REAL, fidelity, run

from emulator.files import (O_RDONLY, O_RDWR, O_WRONLY, S_IFBLK, S_IFCHR, SCRATCH_ADDR,
                            SEEK_CUR, SEEK_END, SEEK_SET)
from emulator.kernel import Kernel
from emulator.shell.syscalls import TaskKilled

LAB = SAMPLES / "linux"
# scenario -> (module, lines the real kernel printed)
RECORDED = {
    # read/write/lseek through f_pos, exclusive open, the module held by an open file,
    # mknod'ed nodes (register_chrdev's minors; no driver: ENXIO), a static major
    "chardev_lab": ("chardev_lab/chardev_lab.ko", 103),
    # hardened usercopy: a read and a write past a kmalloc-16 object, each a BUG
    "usercopy": ("usercopy/usercopy.ko", 207),
    # a /proc directory: a command file, a seq_file list over several pages, single_open
    "procfs_lab": ("procfs_lab/procfs_lab.ko", 207),
    # a kobject under /sys/kernel: rw/ro attributes, a group, a parameter through sysfs
    "sysfs_lab": ("sysfs_lab/sysfs_lab.ko", 43),
    # od and hexdump over a device and files: the reads they make, formats, errors, usage
    "dump_applets": ("chardev_lab/chardev_lab.ko", 108),
    # debugfs once mounted: value files (formats, bad values, a read-only one), a fops file
    "debugfs_lab": ("debugfs_lab/debugfs_lab.ko", 39),
    # device_create_file: DEVICE_ATTR_RW/RO of a class device without a device number
    "devattr_lab": ("devattr_lab/devattr_lab.ko", 23),
    # /proc/<pid>: comm, status's first lines, a kernel thread's cmdline, self, ENOENT
    "procpid": ("chardev_lab/chardev_lab.ko", 19),
}
CLAB_GETLEN, CLAB_SETFILL, CLAB_RESET = 0x80046B01, 0x40046B02, 0x6B00


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_scenario_is_reproduced_line_for_line(name):
    module, lines = RECORDED[name]
    sim = run(REAL / f"{name}.sh", [LAB / module])
    matched, total = fidelity((REAL / f"{name}.real.txt").read_text(), sim)
    assert (matched, total) == (lines, lines)


@pytest.mark.parametrize("name", ["chardev_lab", "usercopy"])
def test_runs_are_deterministic(name):
    module, _ = RECORDED[name]
    assert run(REAL / f"{name}.sh", [LAB / module]) == run(REAL / f"{name}.sh", [LAB / module])


def test_scenarios_name_their_realkernel_command():
    for name in RECORDED:
        first = (REAL / f"{name}.sh").read_text().splitlines()[:2]
        assert first[0].startswith("# ") and "realkernel" in first[1], name


# --------------------------------------------------------------------------- k.open

@pytest.fixture
def clab():
    k = Kernel()
    assert k.insmod(LAB / "chardev_lab/chardev_lab.ko").rc == 0
    yield k
    k.close()


def test_k_open_reads_writes_seeks_and_ioctls(clab):
    k = clab
    with k.open("/dev/chardev_lab") as f:
        assert f.write(b"hello") == 5 and f.pos == 5
        assert f.lseek(0) == 0 and f.read(100) == b"hello"
        assert f.lseek(-2, SEEK_CUR) == 3 and f.read() == b"lo"
        assert f.lseek(0, SEEK_END) == 0        # default_llseek: a char device's i_size is 0
        length = bytearray(4)
        assert f.ioctl(CLAB_GETLEN, length) == 0 and struct.unpack("<i", length) == (5,)
        assert f.ioctl(CLAB_SETFILL, struct.pack("<i", 0x41)) == 0
        f.lseek(0)
        assert f.read(4) == b"AAAA"
        with pytest.raises(OSError) as bad_cmd:
            f.ioctl(0x6B05)
        assert bad_cmd.value.errno == errno.ENOTTY
        for pointer in (0x10, 0xFF11000000000000):       # unmapped; a kernel address
            with pytest.raises(OSError) as bad_ptr:
                f.ioctl(CLAB_GETLEN, pointer)
            assert bad_ptr.value.errno == errno.EFAULT
        assert f.poll() == 0x145                 # no ->poll: DEFAULT_POLLMASK
        with pytest.raises(OSError) as busy:     # the module's exclusive open
            k.open("/dev/chardev_lab")
        assert busy.value.errno == errno.EBUSY
        assert k.rmmod("chardev_lab").rc == -errno.EWOULDBLOCK
    assert k.rmmod("chardev_lab").rc == 0
    assert k.fs.stat("/dev/chardev_lab") == -errno.ENOENT
    assert "chardev_lab: release" in k.dmesg()


def test_an_open_file_holds_two_module_references(clab):
    """chrdev_open's cdev_get (cdev.owner) and fops_get (fops->owner)."""
    k = clab
    mod = k.modules.find("chardev_lab")
    before = mod.refcnt
    f = k.fs.open("/dev/chardev_lab", O_RDONLY)
    assert mod.refcnt == before + 2
    f.release()
    assert mod.refcnt == before


def test_read_into_a_partly_mapped_user_buffer_gives_the_partial_count(clab):
    k = clab
    f = k.fs.open("/dev/chardev_lab", O_RDWR)
    assert f.write_bytes(b"0123456789") == 10
    f.llseek(0, SEEK_SET)
    end = k.fs.scratch() + (1 << 20)            # the scratch buffer's last 4 bytes
    assert f.read(end - 4, 10) == -errno.EFAULT  # copy_to_user fails: the module says EFAULT
    assert f.pos == 0
    assert f.read(0x8000_0000_0000_0000, 4) == -errno.EFAULT     # not access_ok
    f.release()


def test_mknod_nodes_open_their_driver_or_say_enxio(clab):
    k = clab
    major = next(m for m, regs in k.chrdev.table.items() if regs[0][2] == "clab_legacy")
    assert k.fs.mknod("/tmp/legacy", S_IFCHR | 0o644, (major, 9)) == 0
    assert k.fs.mknod("/tmp/legacy", S_IFCHR | 0o644, (major, 9)) == -errno.EEXIST
    assert k.fs.stat("/tmp/legacy").type == "c"
    f = k.fs.open("/tmp/legacy", O_RDONLY)
    assert f.read_bytes(100) == b"legacy device\n" and f.llseek(0, SEEK_SET) == -errno.ESPIPE
    assert f.write_bytes(b"x") == -errno.EBADF
    f.release()
    assert k.fs.mknod("/tmp/nodrv", S_IFCHR | 0o644, (42, 0)) == 0
    assert k.fs.open("/tmp/nodrv", O_RDONLY) == -errno.ENXIO
    assert k.fs.mknod("/dev/blk", S_IFBLK | 0o644, (42, 0)) == 0
    assert k.fs.open("/dev/blk", O_RDONLY) == -errno.ENXIO
    assert k.fs.unlink("/dev/blk") == 0 and k.fs.stat("/dev/blk") == -errno.ENOENT


def test_memory_devices_and_kmsg():
    with Kernel() as k:
        assert k.open("/dev/zero", O_RDONLY).read(5) == bytes(5)
        assert k.open("/dev/null", O_RDONLY).read(5) == b""
        assert k.open("/dev/null", O_WRONLY).write(b"abc") == 3
        k.open("/dev/kmsg", O_WRONLY).write(b"<3>hello from user space\n")
        assert k.dmesg().endswith("hello from user space\n")


def test_proc_pid_files():
    with Kernel() as k:
        names = k.fs.list_dir("/proc")
        assert "self" in names and "1" in names and "83" in names
        assert k.open("/proc/self/comm", O_RDONLY).read() == b"sh\n"
        status = k.open("/proc/83/status", O_RDONLY).read().decode()
        assert "Name:\tsh\n" in status and "Pid:\t83\n" in status
        assert k.fs.stat("/proc/99999") == -errno.ENOENT


def test_a_module_oops_in_a_read_kills_the_reader():
    with Kernel() as k:
        assert k.insmod(LAB / "usercopy/usercopy.ko").rc == 0
        f = k.fs.open("/dev/usercopy", O_RDONLY)
        assert f.read_bytes(16) == b"0123456789abcde\0"
        with pytest.raises(TaskKilled) as killed:
            f.read_bytes(64)
        assert killed.value.signo == 11
        assert "kernel BUG at mm/usercopy.c:101!" in k.dmesg()
        assert "SLUB object 'kmalloc-16' (offset 0, size 64)" in k.dmesg()


# --------------------------------------------------------------------------- uaccess

def test_copy_to_user_stops_at_the_first_missing_page():
    from emulator.kapi import uaccess
    with Kernel() as k:
        m = k.machine
        end = k.fs.scratch() + (1 << 20)
        src = k.slab.kmalloc(64)
        m.write(src, bytes(range(64)))
        assert uaccess.copy_to_user(k, m, end - 16, src, 64) == 48
        assert m.read(end - 16, 16) == bytes(range(16))
        dst = k.slab.kmalloc(64)
        m.write(dst, b"\xff" * 64)
        assert uaccess.copy_from_user(k, m, dst, end - 8, 32) == 24
        assert m.read(dst + 8, 24) == bytes(24)          # what was not copied is zeroed
        assert uaccess.copy_to_user(k, m, 0xFFFF800000000000, src, 8) == 8
        assert uaccess.access_ok(SCRATCH_ADDR, 4096)
        assert not uaccess.access_ok(uaccess.TASK_SIZE_MAX - 4, 8)


# --------------------------------------------------------------------------- struct layouts

BTF = SHARED / "kernel" / "debian-6.1.0-56-amd64" / "vmlinux.btf.xz"


@pytest.mark.skipif(not BTF.is_file(), reason="../shared is absent")
def test_struct_offsets_are_the_reference_kernels():
    from linker.profiles.btf import parse_btf
    from linker.profiles.generate import read_xz

    from emulator import fops
    from emulator.kapi import seqfile, sysfs
    btf = parse_btf(read_xz(BTF))

    def off(struct_name, member):
        return btf.member(struct_name, member).offset

    assert btf.sizeof_struct("file") == fops.FILE_SIZE
    assert btf.sizeof_struct("inode") == fops.INODE_SIZE
    for name, value in (("f_inode", fops.F_INODE), ("f_op", fops.F_OP),
                        ("f_flags", fops.F_FLAGS), ("f_mode", fops.F_MODE),
                        ("f_pos", fops.F_POS), ("private_data", fops.F_PRIVATE),
                        ("f_version", fops.F_VERSION)):
        assert off("file", name) == value, name
    for name, value in (("i_mode", fops.I_MODE), ("i_rdev", fops.I_RDEV),
                        ("i_size", fops.I_SIZE), ("i_fop", fops.I_FOP),
                        ("i_cdev", fops.I_CDEV), ("i_private", fops.I_PRIVATE)):
        assert off("inode", name) == value, name
    for name, value in fops.FOP.items():
        assert off("file_operations", name) == value, name
    for name, value in fops.PROC_OP.items():
        assert off("proc_ops", name) == value, name
    for name, value in (("buf", seqfile.SEQ_BUF), ("count", seqfile.SEQ_COUNT),
                        ("index", seqfile.SEQ_INDEX), ("read_pos", seqfile.SEQ_READ_POS),
                        ("op", seqfile.SEQ_OP), ("private", seqfile.SEQ_PRIVATE)):
        assert off("seq_file", name) == value, name
    assert off("cdev", "ops") == fops.CDEV_OPS and off("cdev", "owner") == fops.CDEV_OWNER
    assert off("miscdevice", "fops") == fops.MISC_FOPS
    assert off("kobj_attribute", "show") == sysfs.KOBJ_ATTR_SHOW
    assert off("kobj_type", "sysfs_ops") == sysfs.KTYPE_SYSFS_OPS
    assert off("attribute_group", "attrs") == sysfs.GROUP_ATTRS
    assert off("device", "devt") == 660


def test_samples_have_their_sources():
    for module, _ in RECORDED.values():
        ko = LAB / module
        assert ko.is_file() and ko.with_suffix(".c").is_file() and \
            (ko.parent / "Kbuild").is_file(), module
    assert Path(REAL / "chardev_lab.real.txt").is_file()


def test_pread_leaves_f_pos_and_fstat_names_the_device(clab):
    k = clab
    f = k.fs.open("/dev/chardev_lab", O_RDWR)
    assert f.write_bytes(b"abcdef") == 6
    ubuf = k.fs.scratch()
    assert f.pread(ubuf, 3, 2) == 3 and k.machine.read(ubuf, 3) == b"cde"
    assert f.pos == 6
    assert f.pread(ubuf, 3, -1) == -errno.EINVAL
    st = f.stat()
    assert st.type == "c" and st.rdev[1] == 0
    f.release()


def test_mount_takes_debugfs_at_its_place_only():
    with Kernel() as k:
        assert k.fs.mount("none", "/tmp", "ext4") == -errno.ENODEV
        assert k.fs.mount("none", "/tmp", "debugfs") == -errno.EPERM
        assert k.fs.list_dir("/sys/kernel/debug") == []
        assert k.fs.mount("none", "/sys/kernel/debug", "debugfs") == 0
        assert k.fs.mount("none", "/sys/kernel/debug", "debugfs") == -errno.EBUSY


def test_strncpy_from_user_and_clear_user():
    from emulator.kapi import uaccess
    with Kernel() as k:
        m = k.machine
        ubuf = k.fs.scratch()
        end = ubuf + (1 << 20)
        m.write(ubuf, b"hello\0world")
        dst = k.slab.kmalloc(64)
        strncpy = uaccess.strncpy_from_user.__wrapped__
        assert strncpy(k, m, dst, ubuf, 64) == 5 and m.read(dst, 6) == b"hello\0"
        assert strncpy(k, m, dst, ubuf, 3) == 3 and m.read(dst, 3) == b"hel"
        m.write(end - 4, b"abcd")
        assert strncpy(k, m, dst, end - 4, 64) == -errno.EFAULT     # runs off the mapping
        assert strncpy(k, m, dst, 0xFFFF888000000000, 8) == -errno.EFAULT
        clear = uaccess.clear_user.__wrapped__
        assert clear(k, m, end - 8, 32) == 24 and m.read(end - 8, 8) == bytes(8)


def test_get_user_and_put_user_keep_the_assembly_convention():
    """__get_user_4: pointer in rax, error in rax, value in rdx; __put_user_4: value in
    rax, pointer in rcx, error in rcx (arch/x86/lib/getuser.S, putuser.S)."""
    from unicorn import x86_const as X

    from emulator.kapi import uaccess
    from emulator.kapi.registry import REGISTRY
    from emulator.memmap import STACK_TOP
    with Kernel() as k:
        m = k.machine
        m.set_reg(m.SP, STACK_TOP - 0x100)
        ubuf = k.fs.scratch()
        m.write(ubuf, (0x11223344).to_bytes(4, "little"))
        m.push(0)                      # a return address for return_from_call
        m.set_reg(X.UC_X86_REG_RAX, ubuf)
        REGISTRY["uaccess.__get_user_4"](k, m)
        assert m.reg(X.UC_X86_REG_RAX) == 0 and m.reg(X.UC_X86_REG_RDX) == 0x11223344
        m.push(0)
        m.set_reg(X.UC_X86_REG_RAX, uaccess.TASK_SIZE_MAX)
        REGISTRY["uaccess.__get_user_4"](k, m)
        assert m.reg(X.UC_X86_REG_RAX) == (-errno.EFAULT) & (1 << 64) - 1
        assert m.reg(X.UC_X86_REG_RDX) == 0
        m.push(0)
        m.set_reg(X.UC_X86_REG_RAX, 0xCAFE)
        m.set_reg(X.UC_X86_REG_RCX, ubuf + 8)
        REGISTRY["uaccess.__put_user_2"](k, m)
        assert m.reg(X.UC_X86_REG_RCX) == 0 and m.read(ubuf + 8, 2) == b"\xfe\xca"
