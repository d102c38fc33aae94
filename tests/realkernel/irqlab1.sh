# irqlab1: irqlab.ko: request_irq (a free line, a shared line in use, an unshared one in use) shown in /proc/interrupts, request_region on free and taken ports shown in /proc/ioports, inb/inw/inl of ports nobody emulates
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/irqlab1.sh irqlab/irqlab.ko)
cat /proc/ioports
insmod irqlab.ko; echo "rc=$?"
grep irqlab /proc/interrupts /proc/ioports
rmmod irqlab; echo "rc=$?"
insmod irqlab.ko irq=4 shared=0 base=0x60 len=1; echo "rc=$?"
rmmod irqlab; echo "rc=$?"
insmod irqlab.ko irq=9 base=0x3f8 len=8; echo "rc=$?"
grep irqlab /proc/interrupts /proc/ioports
rmmod irqlab; echo "rc=$?"
insmod irqlab.ko irq=11 base=0x310 len=4; echo "rc=$?"
cat /proc/interrupts | grep -e irqlab -e CPU0
rmmod irqlab; echo "rc=$?"
