"""Write small .tflite models at test time, with the flatbuffers builder functions of the `tflite` package.

    b = TfliteBuilder()
    x = b.tensor([1, 4, 4, 8], "INT8", scale=0.05, zero_point=-3, name="x")
    axes = b.tensor([2], "INT32", data=np.array([1, 2], np.int32))
    y = b.tensor([1, 1, 1, 8], "INT8", scale=0.02, zero_point=5, name="y")
    b.op("MEAN", [x, axes], [y], "ReducerOptions", KeepDims=True)
    model = b.build(inputs=[x], outputs=[y])   # bytes, "TFL3" at offset 4

Tensor types, opcodes, option tables and their fields are the schema's own names (TensorType,
BuiltinOperator, BuiltinOptions; an option field F of table T is written by the package's `TAddF`).
Constants get 16-byte-aligned buffers, as TFLite's converter writes them. The file is what TFLite
Micro's interpreter and TFLite load: the tests run those on it for reference outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite

NUMPY_TYPES = {"FLOAT32": np.float32, "INT32": np.int32, "UINT8": np.uint8, "INT64": np.int64, "INT16": np.int16,
               "INT8": np.int8}


@dataclass
class _Tensor:
    shape: list[int]
    type: str
    data: np.ndarray | None
    scale: list[float] | None
    zero_point: list[int] | None
    axis: int
    name: str


@dataclass
class _Op:
    opcode: str
    inputs: list[int]
    outputs: list[int]
    options: str | None
    fields: dict


@dataclass
class TfliteBuilder:
    tensors: list[_Tensor] = field(default_factory=list)
    ops: list[_Op] = field(default_factory=list)

    def tensor(self, shape, type: str = "INT8", data=None, scale=None, zero_point=None, axis: int = 0,
               name: str | None = None) -> int:
        """Add a tensor (a constant when `data` is given); scale/zero_point scalars or per-axis lists."""
        if data is not None:
            data = np.asarray(data, dtype=NUMPY_TYPES[type])
        if scale is not None:
            scale = list(np.atleast_1d(np.asarray(scale, dtype=np.float32)))
            zero_point = list(np.atleast_1d(np.asarray(0 if zero_point is None else zero_point, dtype=np.int64)))
        self.tensors.append(_Tensor(list(shape), type, data, scale, zero_point, axis,
                                    name or f"t{len(self.tensors)}"))
        return len(self.tensors) - 1

    def op(self, opcode: str, inputs, outputs, options: str | None = None, **fields) -> None:
        """Add an operator; `options` names its BuiltinOptions table and `fields` fill it."""
        self.ops.append(_Op(opcode, list(inputs), list(outputs), options, fields))

    def build(self, inputs, outputs, subgraphs: int = 1) -> bytes:
        """The model as .tflite bytes; subgraphs > 1 repeats the one subgraph (for refusal tests)."""
        fb = flatbuffers.Builder(1024)
        constants = [t.data for t in self.tensors if t.data is not None]
        buffers = [_buffer(fb, None)] + [_buffer(fb, d) for d in constants]
        opcodes = sorted({op.opcode for op in self.ops})
        codes = []
        for name in opcodes:
            code = getattr(tflite.BuiltinOperator, name)
            tflite.OperatorCodeStart(fb)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(fb, min(code, 127))
            tflite.OperatorCodeAddBuiltinCode(fb, code)
            tflite.OperatorCodeAddVersion(fb, 1)
            codes.append(tflite.OperatorCodeEnd(fb))

        tensors, buffer_index = [], 0
        for t in self.tensors:
            if t.data is not None:
                buffer_index += 1
            tensors.append(_tensor(fb, t, buffer_index if t.data is not None else 0))
        operators = [_operator(fb, op, opcodes.index(op.opcode)) for op in self.ops]
        graph_inputs = fb.CreateNumpyVector(np.array(inputs, np.int32))
        graph_outputs = fb.CreateNumpyVector(np.array(outputs, np.int32))
        tensor_vec = _offsets(fb, tensors)
        op_vec = _offsets(fb, operators)
        name = fb.CreateString("main")
        graphs = []
        for _ in range(subgraphs):
            tflite.SubGraphStart(fb)
            tflite.SubGraphAddTensors(fb, tensor_vec)
            tflite.SubGraphAddInputs(fb, graph_inputs)
            tflite.SubGraphAddOutputs(fb, graph_outputs)
            tflite.SubGraphAddOperators(fb, op_vec)
            tflite.SubGraphAddName(fb, name)
            graphs.append(tflite.SubGraphEnd(fb))

        code_vec, graph_vec, buffer_vec = _offsets(fb, codes), _offsets(fb, graphs), _offsets(fb, buffers)
        description = fb.CreateString("mcucompile test model")
        tflite.ModelStart(fb)
        tflite.ModelAddVersion(fb, 3)
        tflite.ModelAddOperatorCodes(fb, code_vec)
        tflite.ModelAddSubgraphs(fb, graph_vec)
        tflite.ModelAddDescription(fb, description)
        tflite.ModelAddBuffers(fb, buffer_vec)
        fb.Finish(tflite.ModelEnd(fb), file_identifier=b"TFL3")
        return bytes(fb.Output())


def _offsets(fb, items: list[int]) -> int:
    fb.StartVector(4, len(items), 4)
    for item in reversed(items):
        fb.PrependUOffsetTRelative(item)
    return fb.EndVector()


def _buffer(fb, data: np.ndarray | None) -> int:
    vec = None
    if data is not None:
        raw = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes()
        fb.StartVector(1, len(raw), 16)
        fb.head -= len(raw)
        fb.Bytes[fb.head:fb.head + len(raw)] = raw
        vec = fb.EndVector()
    tflite.BufferStart(fb)
    if vec is not None:
        tflite.BufferAddData(fb, vec)
    return tflite.BufferEnd(fb)


def _tensor(fb, t: _Tensor, buffer: int) -> int:
    name = fb.CreateString(t.name)
    shape = fb.CreateNumpyVector(np.array(t.shape, np.int32))
    quant = None
    if t.scale is not None:
        scale = fb.CreateNumpyVector(np.array(t.scale, np.float32))
        zero_point = fb.CreateNumpyVector(np.array(t.zero_point, np.int64))
        tflite.QuantizationParametersStart(fb)
        tflite.QuantizationParametersAddScale(fb, scale)
        tflite.QuantizationParametersAddZeroPoint(fb, zero_point)
        tflite.QuantizationParametersAddQuantizedDimension(fb, t.axis)
        quant = tflite.QuantizationParametersEnd(fb)
    tflite.TensorStart(fb)
    tflite.TensorAddShape(fb, shape)
    tflite.TensorAddType(fb, getattr(tflite.TensorType, t.type))
    tflite.TensorAddBuffer(fb, buffer)
    tflite.TensorAddName(fb, name)
    if quant is not None:
        tflite.TensorAddQuantization(fb, quant)
    return tflite.TensorEnd(fb)


def _operator(fb, op: _Op, opcode_index: int) -> int:
    inputs = fb.CreateNumpyVector(np.array(op.inputs, np.int32))
    outputs = fb.CreateNumpyVector(np.array(op.outputs, np.int32))
    options = None
    if op.options is not None:
        getattr(tflite, f"{op.options}Start")(fb)
        for key, value in op.fields.items():
            getattr(tflite, f"{op.options}Add{key}")(fb, value)
        options = getattr(tflite, f"{op.options}End")(fb)
    tflite.OperatorStart(fb)
    tflite.OperatorAddOpcodeIndex(fb, opcode_index)
    tflite.OperatorAddInputs(fb, inputs)
    tflite.OperatorAddOutputs(fb, outputs)
    if options is not None:
        tflite.OperatorAddBuiltinOptionsType(fb, getattr(tflite.BuiltinOptions, op.options))
        tflite.OperatorAddBuiltinOptions(fb, options)
    return tflite.OperatorEnd(fb)
