#!/usr/bin/python3
"""bench/reference/make_large_set.py — a set of large JPEGs for measuring
shrink-on-load and downscaling, made from Corel-1k (which is all 384x256, so
its Resize(256) is the identity and exercises no resampling).

Every 10th Corel image (100 images) is upscaled with PIL LANCZOS by each
factor (default 1.7, 3, 4.5, 8: shorter side 435 .. 2048) and saved as
JPEG quality 90, 4:2:0. Sizes are chosen so that JPEG shrink-on-load by 1, 2,
4 and 8 gets used with the default 256 -> 224 recipe, and some are not
divisible by the shrink factor.

  /usr/bin/python3 bench/reference/make_large_set.py [CORELDIR] [OUT] [--factors 1.7,3,4.5,8]
defaults: ../shared/data/corel1k_wang/images -> /tmp/pxs-ref/large-src
"""
import argparse
import os

from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument('corel', nargs='?', default=os.path.join(here, '../../../shared/data/corel1k_wang/images'))
ap.add_argument('out', nargs='?', default='/tmp/pxs-ref/large-src')
ap.add_argument('--factors', default='1.7,3,4.5,8')
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
n = 0
for i in range(0, 1000, 10):
    src = os.path.join(a.corel, f'{i}.jpg')
    with Image.open(src) as im:
        im = im.convert('RGB')
        for f in (float(x) for x in a.factors.split(',')):
            size = (int(im.width * f) | 1, int(im.height * f))  # odd widths on purpose
            im.resize(size, Image.LANCZOS).save(os.path.join(a.out, f'{i}_x{f:g}.jpg'), quality=90)
            n += 1
print(f'wrote {n} images to {a.out}')
