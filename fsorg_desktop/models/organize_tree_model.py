"""Before/after trees of a layout: folders with the number of files under each.

``path_tree`` (no Qt) folds ``{relative folder path: direct files}`` into nested nodes;
``tree_model`` makes a two-column QStandardItemModel (name, files under it), largest
first, so the user sees at a glance where the files go.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel

PathRole = Qt.ItemDataRole.UserRole


class Node:
    __slots__ = ("name", "files", "children", "path")

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path
        self.files = 0  # files in this folder and below
        self.children: dict[str, Node] = {}


def path_tree(counts: dict[str, int], root_name: str) -> Node:
    root = Node(root_name, "")
    for path, n in counts.items():
        root.files += n
        node = root
        acc = ""
        for part in [p for p in path.split("/") if p]:
            acc = f"{acc}/{part}" if acc else part
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = Node(part, acc)
            child.files += n
            node = child
    return root


def tree_model(root: Node, parent=None) -> QStandardItemModel:
    model = QStandardItemModel(parent)
    model.setHorizontalHeaderLabels(["Folder", "Files"])

    def items(node: Node) -> list[QStandardItem]:
        name = QStandardItem(node.name)
        name.setEditable(False)
        name.setData(node.path, PathRole)
        n = QStandardItem(f"{node.files:,}")
        n.setEditable(False)
        n.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if node.children:
            name.setToolTip(f"{node.path or node.name}: {len(node.children):,} folders, {node.files:,} files below")
        return [name, n]

    stack = [(root, model.invisibleRootItem())]
    while stack:
        node, parent_item = stack.pop()
        row = items(node)
        parent_item.appendRow(row)
        for child in reversed(sorted(node.children.values(), key=lambda c: (-c.files, c.name.casefold()))):
            stack.append((child, row[0]))
    return model


def count_items(model: QStandardItemModel) -> int:
    """Folders in the model (for tests and the header counts)."""
    n = 0
    stack = [model.invisibleRootItem()]
    while stack:
        it = stack.pop()
        for r in range(it.rowCount()):
            n += 1
            stack.append(it.child(r, 0))
    return n
