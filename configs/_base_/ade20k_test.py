# The ADE20K (SceneParsing) test set as the test split, for the evaluation server (it has no labels:
# label PNGs are only written, not evaluated). Merged into a segmentation config by tools/test.py:
#   python tools/test.py CONFIG CHECKPOINT --test-data configs/_base_/ade20k_test.py --out-dir DIR
# Expects data/ade/release_test/testing/*.jpg (release_test.zip); the PNGs are named after the images
# and hold labels 1..150 (0, "other", is never predicted), the server's convention.
test_dataloader = dict(
    dataset=dict(
        data_root='data/ade/release_test',
        data_prefix=dict(_delete_=True, img_path='testing')))
test_evaluator = dict(format_only=True)
