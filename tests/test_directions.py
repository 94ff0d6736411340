"""The four scan orders of a GroupMambaLayer, checked on an index grid."""
import torch

from mmgroupmamba.models.directional_ssm import scan_orders


def test_scan_orders_on_a_3x4_grid():
    order, unorder = scan_orders(3, 4, torch.device('cpu'))
    row_major = list(range(12))  # token h * 4 + w
    column_major = [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
    assert order[0].tolist() == row_major
    assert order[1].tolist() == column_major
    assert order[2].tolist() == row_major[::-1]  # starts at (2, 3)
    assert order[3].tolist() == column_major[::-1]
    for k in range(4):  # merging is the exact inverse of scanning
        assert order[k][unorder[k]].tolist() == row_major
        assert unorder[k][order[k]].tolist() == row_major


def test_single_token_and_single_row():
    order, _ = scan_orders(1, 1, torch.device('cpu'))
    assert order.tolist() == [[0]] * 4
    order, _ = scan_orders(1, 5, torch.device('cpu'))
    assert order[1].tolist() == [0, 1, 2, 3, 4]  # a 1-row column scan is a row scan
