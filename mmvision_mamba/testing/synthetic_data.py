"""Small, learnable synthetic data sets in COCO-instance and ADE20K layouts (for tests and the quickstart); OpenCV
is imported when a set is written."""
import json
import os
import os.path as osp
from typing import List, Tuple

import numpy as np

SHAPE_CLASSES = ('rectangle', 'ellipse', 'triangle')
SHAPE_PALETTE = [(220, 20, 60), (0, 130, 230), (250, 170, 30)]


def _polygon(kind: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random shape as an (K, 2) int polygon inside a size x size image."""
    s = rng.uniform(0.18, 0.4) * size
    cx, cy = rng.uniform(s / 2 + 2, size - s / 2 - 2, 2)
    if kind == 'rectangle':
        w, h = s * rng.uniform(0.6, 1.0, 2)
        pts = [(cx - w / 2, cy - h / 2), (cx + w / 2, cy - h / 2), (cx + w / 2, cy + h / 2), (cx - w / 2, cy + h / 2)]
    elif kind == 'ellipse':
        a, b = s / 2 * rng.uniform(0.6, 1.0, 2)
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        pts = list(zip(cx + a * np.cos(t), cy + b * np.sin(t)))
    else:
        t = rng.uniform(0, 2 * np.pi) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
        pts = list(zip(cx + s / 2 * np.cos(t), cy + s / 2 * np.sin(t)))
    return np.round(np.array(pts)).astype(np.int32)


def _scene(rng: np.random.Generator, size: int,
           max_objects: int) -> Tuple[np.ndarray, List[Tuple[int, np.ndarray, np.ndarray]]]:
    """Renders an image; returns it and, per visible object, (class index, polygon, own mask)."""
    import cv2
    img = (rng.uniform(60, 120) + rng.normal(0, 12, (size, size, 3))).clip(0, 255).astype(np.uint8)
    owner = np.full((size, size), -1, np.int32)
    objects = []
    for k in range(int(rng.integers(1, max_objects + 1))):
        cls = int(rng.integers(len(SHAPE_CLASSES)))
        poly = _polygon(SHAPE_CLASSES[cls], rng, size)
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [poly], 1)
        color = np.array(SHAPE_PALETTE[cls]) * rng.uniform(0.8, 1.0)
        img[mask > 0] = color.astype(np.uint8)
        owner[mask > 0] = k
        objects.append((cls, poly, mask))
    visible = []
    for k, (cls, poly, mask) in enumerate(objects):
        own = (owner == k).astype(np.uint8)
        if own.sum() > 0.6 * mask.sum():  # drop heavily occluded objects
            visible.append((cls, poly, own))
    return img, visible


def make_coco_shapes(root: str, num_train: int = 64, num_val: int = 16, size: int = 128,
                     max_objects: int = 3, seed: int = 0) -> str:
    """Writes {root}/{train,val}/*.png and {root}/annotations/instances_{train,val}.json.

    Returns:
        root.
    """
    import cv2
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(SHAPE_CLASSES)]
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, anns = [], []
        for i in range(count):
            img, objects = _scene(rng, size, max_objects)
            name = f'{i:05d}.png'
            cv2.imwrite(osp.join(root, split, name), img[:, :, ::-1])
            images.append(dict(id=i + 1, file_name=name, width=size, height=size))
            for cls, _, own in objects:
                contours, _ = cv2.findContours(own, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
                segs = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
                x, y, w, h = cv2.boundingRect(own)
                anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=cls + 1, iscrowd=0,
                                 bbox=[x, y, w, h], area=float(own.sum()), segmentation=segs))
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=anns, categories=categories), f)
    return root


def make_ade_shapes(root: str, num_train: int = 16, num_val: int = 4, size: int = 128,
                    max_objects: int = 3, seed: int = 0) -> str:
    """Writes an ADE20K-layout set: {root}/images/{training,validation}/*.jpg and
    {root}/annotations/{training,validation}/*.png, labels 1..150 (0 = ignored, as in ADE20K)."""
    import cv2
    rng = np.random.default_rng(seed)
    for split, count in (('training', num_train), ('validation', num_val)):
        os.makedirs(osp.join(root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations', split), exist_ok=True)
        for i in range(count):
            img, objects = _scene(rng, size, max_objects)
            label = np.ones((size, size), np.uint8)
            for cls, _, own in objects:
                label[own > 0] = cls + 2
            name = f'ADE_{split}_{i:08d}'
            cv2.imwrite(osp.join(root, 'images', split, name + '.jpg'), img[:, :, ::-1])
            cv2.imwrite(osp.join(root, 'annotations', split, name + '.png'), label)
    return root

