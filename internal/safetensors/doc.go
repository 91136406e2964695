// Package safetensors reads and writes the safetensors tensor file format, so
// that model weights move between robustq and PyTorch (or any other tool that
// speaks the format) without pickle.
//
// # Overview
//
// A safetensors file is three consecutive regions:
//
//   - 8 bytes: N, an unsigned little-endian 64-bit integer, the header length;
//   - N bytes: a UTF-8 JSON object that maps each tensor name to
//     {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]},
//     plus an optional "__metadata__" object of string to string; it begins
//     with '{' and may be padded at the end with spaces;
//   - the byte buffer: every tensor's elements in row-major order,
//     little-endian, at [begin, end) relative to the start of the buffer.
//
// [Write] and [WriteFile] store float32 tensors as F32. [Read] and [ReadFile]
// accept F32, and also F16 and BF16 (converted to float32 exactly) and F64
// (rounded to the nearest float32; a finite value beyond the float32 range is
// an error rather than a silent infinity). Other dtypes (integers, booleans,
// 8-bit floats) are rejected with [ErrUnsupportedDtype].
//
// Files are untrusted input. Every number in a header is checked before it is
// used, and memory is allocated in proportion to the bytes actually present,
// never to the sizes a header claims. [ReadOptions] bound the number of
// tensors and the data size a header may declare, and let the caller check
// names and shapes (against a network, say) before any data is read.
//
// # Invariants
//
//   - Output is deterministic: tensors appear sorted by name, both in the
//     header and in the buffer; metadata keys are sorted; the header is padded
//     with spaces so that the buffer starts at a multiple of 8 bytes.
//   - Read and ReadFile return tensors sorted by name, with unique, non-empty,
//     valid UTF-8 names and len(Data) equal to the product of Shape (1 for a
//     scalar, whose Shape is empty).
//   - A file is accepted only if its buffer is covered exactly: the tensors'
//     byte ranges, taken in order, start at 0, leave no gap, do not overlap and
//     end at the end of the file. Each range's length equals the element count
//     times the dtype's size.
//   - Every error starts with "safetensors: " and wraps one of the package's
//     sentinel errors, so callers can test it with errors.Is; the one
//     exception is an error from ReadOptions.Check, returned as it is.
//   - WriteFile never leaves a partly written file at its destination: it
//     writes a temporary file in the same directory, syncs it and renames it.
package safetensors
