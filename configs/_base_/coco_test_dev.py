# COCO test-dev 2017 as the test split, for the evaluation server (it has no labels: results are only
# written, not evaluated). Merged into a detection config by tools/test.py:
#   python tools/test.py CONFIG CHECKPOINT --test-data configs/_base_/coco_test_dev.py --out-dir DIR
# Expects, under the config's data_root (data/coco/): test2017/*.jpg (test2017.zip) and
# annotations/image_info_test-dev2017.json (image_info_test2017.zip). The evaluator's ann_file follows
# the dataset's (the image ids and category ids of the results come from it).
test_dataloader = dict(
    dataset=dict(
        ann_file='annotations/image_info_test-dev2017.json',
        data_prefix=dict(img='test2017/'),
        test_mode=True))
test_evaluator = dict(format_only=True)
