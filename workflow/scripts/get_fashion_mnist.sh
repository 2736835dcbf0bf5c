#!/bin/sh
# Make Fashion-MNIST available for `make run` and `make test`: Debian/Ubuntu's package where possible
# (installing it needs root or password-less sudo), else torchvision's download, else stop and say how to
# get it. The workflow's `data` rule then finds the files and records them. Usage: get_fashion_mnist.sh PYTHON
PY=${1:-python3}
DEBIAN_DIR=/usr/share/datasets/fashion-mnist
ROOT=resources/data

if [ -f "$DEBIAN_DIR/train-images-idx3-ubyte.gz" ]; then
    echo "Fashion-MNIST: using Debian's package ($DEBIAN_DIR)"; exit 0
fi
if [ -f "$ROOT/FashionMNIST/raw/train-images-idx3-ubyte" ]; then
    echo "Fashion-MNIST: found in $ROOT/FashionMNIST/raw"; exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ]; then
        echo "Fashion-MNIST: installing Debian's package dataset-fashion-mnist"
        if $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
           || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }; then
            [ -f "$DEBIAN_DIR/train-images-idx3-ubyte.gz" ] && exit 0
        fi
    fi
fi
echo "Fashion-MNIST: downloading it with torchvision into $ROOT"
if "$PY" -m unlearning_comparator fetch-data --dataset fashion_mnist --root "$ROOT"; then exit 0; fi
cat >&2 <<MSG
Could not get Fashion-MNIST. Either install Debian/Ubuntu's package:
    sudo apt-get install dataset-fashion-mnist
or let torchvision download it (needs internet access):
    $PY -m unlearning_comparator fetch-data --dataset fashion_mnist --root $ROOT
MSG
exit 1
