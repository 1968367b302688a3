import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'e2e: slow end-to-end runs (training through tools/)')


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
