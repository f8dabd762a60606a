#!/usr/bin/python3
"""bench/reference/pil_preprocess.py — reference CNN input tensors made with PIL.

Reproduces the torchvision ImageClassification preset used for the shared
MobileNetV2 references (shared/baselines/seed_replica/features.py:
Resize(256) -> CenterCrop(224) -> ToTensor -> Normalize) with PIL and numpy
only, so torch is not needed:

  img = Image.open(f).convert('RGB')     # EXIF orientation NOT applied (PIL default)
  Resize(256): shorter side -> 256, longer -> int(256 * long / short), PIL BILINEAR
               (skipped when the size is unchanged, as torchvision does)
  CenterCrop(224): offset int(round((size - 224) / 2.0)), black padding if smaller
  x = (float32(v) / 255 - mean) / std, mean/std the ImageNet values, CHW

Output (in OUT):
  names.txt                  one image path per line, relative to the input dir
  input_Nx3xHxW.f32          N float32 NCHW tensors, little-endian, concatenated
  meta.json                  the recipe and sizes

Run with Debian's python (needs python3-pil python3-numpy):
  /usr/bin/python3 bench/reference/pil_preprocess.py IMAGE_DIR OUT [--list FILE]
      [--resize 256] [--crop 224] [--check-torchvision K]
--check-torchvision K compares the first K tensors with torchvision's own
transforms (needs python3-torchvision; optional).
"""
import argparse
import json
import os
import re
import sys

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff', '.ppm', '.pgm')


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', s)]


def list_images(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in files:
            if f.lower().endswith(EXTS):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out, key=natural_key)


def resize_shorter(img, size):
    """torchvision 0.14 F.resize(img, [size]) on a PIL image."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) == (w, h):
        return img
    return img.resize((new_w, new_h), Image.BILINEAR)


def center_crop(img, crop):
    """torchvision 0.14 F.center_crop(img, [crop, crop]) on a PIL image."""
    w, h = img.size
    if crop > w or crop > h:
        left = (crop - w) // 2 if crop > w else 0
        top = (crop - h) // 2 if crop > h else 0
        right = (crop - w + 1) // 2 if crop > w else 0
        bottom = (crop - h + 1) // 2 if crop > h else 0
        padded = Image.new(img.mode, (w + left + right, h + top + bottom), 0)
        padded.paste(img, (left, top))
        img = padded
        w, h = img.size
        if (w, h) == (crop, crop):
            return img
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


def to_tensor(img):
    a = np.asarray(img, dtype=np.float32) / np.float32(255)
    a = (a - MEAN) / STD
    return np.ascontiguousarray(a.transpose(2, 0, 1), dtype='<f4')


def preprocess(path, resize, crop):
    with Image.open(path) as im:
        img = im.convert('RGB')
    return to_tensor(center_crop(resize_shorter(img, resize), crop))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('image_dir')
    ap.add_argument('out')
    ap.add_argument('--list', help='file with image paths relative to image_dir (default: all)')
    ap.add_argument('--resize', type=int, default=256)
    ap.add_argument('--crop', type=int, default=224)
    ap.add_argument('--check-torchvision', type=int, default=0, metavar='K')
    a = ap.parse_args()

    names = ([l.strip() for l in open(a.list) if l.strip()] if a.list else list_images(a.image_dir))
    if not names:
        sys.exit('no images under ' + a.image_dir)
    os.makedirs(a.out, exist_ok=True)
    n, c = len(names), a.crop
    tpath = os.path.join(a.out, f'input_{n}x3x{c}x{c}.f32')
    with open(tpath + '.tmp', 'wb') as f:
        for i, name in enumerate(names):
            f.write(preprocess(os.path.join(a.image_dir, name), a.resize, a.crop).tobytes())
            if (i + 1) % 200 == 0:
                print(f'{i + 1}/{n}', file=sys.stderr)
    os.replace(tpath + '.tmp', tpath)
    with open(os.path.join(a.out, 'names.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')
    json.dump({'image_dir': os.path.abspath(a.image_dir), 'n': n, 'shape': [n, 3, c, c],
               'tensor_file': os.path.basename(tpath), 'resize_shorter': a.resize, 'crop': c,
               'mean': MEAN.tolist(), 'std': STD.tolist(), 'channels': 'RGB', 'exif': 'ignored',
               'resample': 'PIL BILINEAR', 'pil': Image.__version__},
              open(os.path.join(a.out, 'meta.json'), 'w'), indent=1)
    print(f'wrote {n} tensors to {tpath}')

    if a.check_torchvision:
        from torchvision import transforms  # optional cross-check
        tf = transforms.Compose([transforms.Resize(a.resize), transforms.CenterCrop(a.crop),
                                 transforms.ToTensor(), transforms.Normalize(MEAN.tolist(), STD.tolist())])
        worst = 0.0
        for name in names[:a.check_torchvision]:
            p = os.path.join(a.image_dir, name)
            with Image.open(p) as im:
                ref = tf(im.convert('RGB')).numpy()
            worst = max(worst, float(np.abs(ref - preprocess(p, a.resize, a.crop)).max()))
        print(f'torchvision cross-check on {min(n, a.check_torchvision)} images: max |diff| = {worst:g}')


if __name__ == '__main__':
    main()
