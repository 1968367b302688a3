"""Checkpoints from http(s) URLs, against a real HTTP server on 127.0.0.1: the cache is keyed by the
whole URL, partial or stalled downloads leave nothing behind, and a bad cached file is removed."""
import io
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, List, Tuple

import pytest
import torch
from safetensors.torch import save

from mmvision_mamba.fileio import load_checkpoint_file
from mmvision_mamba.fileio.checkpoint_io import (DOWNLOAD_TIMEOUT_ENV, CheckpointDownloadError,
                                                cached_path_for_url, download_timeout)

# path -> (status, body, declared Content-Length or None for len(body))
Routes = Dict[str, Tuple[int, bytes, int]]


class _Handler(BaseHTTPRequestHandler):
    routes: Routes = {}
    requests: List[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        status, body, length = self.routes.get(self.path, (404, b'not found', None))
        self.send_response(status)
        self.send_header('Content-Length', str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Tuple[str, Routes, List[str]]]:
    """(base URL, routes to fill, paths requested so far)."""
    handler = type('Handler', (_Handler,), {'routes': {}, 'requests': []})
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{httpd.server_address[1]}', handler.routes, handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def hub_dir(tmp_path, monkeypatch) -> Iterator[str]:
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    monkeypatch.setenv(DOWNLOAD_TIMEOUT_ENV, '5')
    yield str(tmp_path / 'hub' / 'checkpoints')
    torch.hub.set_dir(old)


def cached_files(folder: str) -> List[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def safetensors_bytes(value: float) -> bytes:
    return save({'model.patch_embed.conv_down.0.weight': torch.full((2, 3), value)})


def torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_same_file_name_different_urls_are_different_weights(server, hub_dir) -> None:
    base, routes, requests = server
    routes['/nvidia/MambaVision-T-1K/resolve/main/model.safetensors'] = (200, safetensors_bytes(1.), None)
    routes['/nvidia/MambaVision-B-1K/resolve/main/model.safetensors'] = (200, safetensors_bytes(2.), None)
    key = 'model.patch_embed.conv_down.0.weight'
    for _ in range(2):  # the second round comes from the cache
        t = load_checkpoint_file(base + '/nvidia/MambaVision-T-1K/resolve/main/model.safetensors')
        b = load_checkpoint_file(base + '/nvidia/MambaVision-B-1K/resolve/main/model.safetensors')
        assert torch.equal(t[key], torch.ones(2, 3)) and torch.equal(b[key], torch.full((2, 3), 2.))
    assert len(requests) == 2
    files = cached_files(hub_dir)
    assert len(files) == 2 and all(f.startswith('model-') and f.endswith('.safetensors') for f in files)


def test_stalled_server_times_out_and_names_the_url(monkeypatch, hub_dir) -> None:
    monkeypatch.setenv(DOWNLOAD_TIMEOUT_ENV, '0.3')
    with socket.socket() as listener:  # accepts connections (backlog) and never answers
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        url = f'http://127.0.0.1:{listener.getsockname()[1]}/mambavision_tiny_1k.pth.tar'
        with pytest.raises(CheckpointDownloadError, match=r'stalled: no answer within 0\.3 s') as err:
            load_checkpoint_file(url)
    assert url in str(err.value) and DOWNLOAD_TIMEOUT_ENV in str(err.value)
    assert cached_files(hub_dir) == []


def test_cut_off_download_leaves_nothing(server, hub_dir) -> None:
    base, routes, _ = server
    body = torch_bytes({'state_dict': {'w': torch.zeros(64)}})
    routes['/ckpt.pth'] = (200, body[:100], len(body))
    with pytest.raises(CheckpointDownloadError, match=rf'cut off.*100 of {len(body)} bytes') as err:
        load_checkpoint_file(base + '/ckpt.pth')
    assert base + '/ckpt.pth' in str(err.value)
    assert cached_files(hub_dir) == []
    routes['/ckpt.pth'] = (200, body, None)  # the retry downloads it whole
    assert torch.equal(load_checkpoint_file(base + '/ckpt.pth')['state_dict']['w'], torch.zeros(64))


def test_corrupt_cached_file_is_removed(server, hub_dir) -> None:
    base, routes, requests = server
    body = torch_bytes({'state_dict': {'w': torch.ones(256)}})
    routes['/ckpt.pth'] = (200, body, None)
    url = base + '/ckpt.pth'
    load_checkpoint_file(url)
    cache = cached_path_for_url(url)
    with open(cache, 'r+b') as f:  # e.g. a disk that filled up after the download
        f.truncate(len(body) // 2)
    with pytest.raises(ValueError, match='unusable and was removed from the cache') as err:
        load_checkpoint_file(url)
    assert url in str(err.value) and cache in str(err.value)
    assert not os.path.exists(cache)
    assert torch.equal(load_checkpoint_file(url)['state_dict']['w'], torch.ones(256))
    assert len(requests) == 2


def test_html_page_is_named_and_not_cached(server, hub_dir) -> None:
    base, routes, _ = server
    routes['/nvidia/MambaVision-T-1K/blob/main/mambavision_tiny_1k.pth.tar'] = (
        200, b'<!DOCTYPE html>\n<html><head><title>Hugging Face</title></head></html>', None)
    with pytest.raises(ValueError, match="HTML.*use '/resolve/'"):
        load_checkpoint_file(base + '/nvidia/MambaVision-T-1K/blob/main/mambavision_tiny_1k.pth.tar')
    assert cached_files(hub_dir) == []


def test_http_error(server, hub_dir) -> None:
    base, _, _ = server
    with pytest.raises(CheckpointDownloadError, match=r'HTTP 404.*local path'):
        load_checkpoint_file(base + '/missing.pth')
    assert cached_files(hub_dir) == []


def test_unreachable_names_url_and_local_path(hub_dir) -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    url = f'http://127.0.0.1:{port}/mambavision_tiny_1k.pth.tar'
    with pytest.raises(CheckpointDownloadError, match='offline') as err:
        load_checkpoint_file(url)
    assert url in str(err.value) and "checkpoint='/path/to/file'" in str(err.value)


def test_timeout_setting(monkeypatch) -> None:
    monkeypatch.setenv(DOWNLOAD_TIMEOUT_ENV, '2.5')
    assert download_timeout() == 2.5
    monkeypatch.setenv(DOWNLOAD_TIMEOUT_ENV, 'soon')
    with pytest.raises(ValueError, match=f"{DOWNLOAD_TIMEOUT_ENV}='soon'"):
        download_timeout()
