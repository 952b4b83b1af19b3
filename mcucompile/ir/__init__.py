"""The compiler's graph: tensors in NHWC, nodes in execution order."""
from .graph import Graph, Node, QParams, Tensor
from .verify import verify

__all__ = ["Graph", "Node", "QParams", "Tensor", "verify"]
