// Weight repacking (checkpoint [N, K] rows → panels) and activation preparation for bf16 / quantised GEMMs.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels.h"

namespace vip {

enum SrcType : int { SRC_F32 = 0, SRC_F16 = 1, SRC_BF16 = 2 };

// Padded K of a format: even for bf16 pairs, a multiple of 32 for the quantised ones.
int64_t padded_k(Format f, int64_t k);
// Bytes of a packed [N, K] matrix.
size_t packed_bytes(Format f, int64_t n, int64_t k);
// Repacks src [N, K] (row-major, in its own dtype) into dst, panels of 32 rows; rows past N are zero. Only
// panels [p0, p1) when given (p1 = -1: to the end), so callers can split the work.
void pack_matrix(Format f, const void* src, SrcType st, int64_t n, int64_t k, void* dst, int64_t p0 = 0, int64_t p1 = -1);

// The matrix back as float32 [N, K] (exact for the float formats, dequantised for Q8_0 / Q4_0).
void unpack_matrix(Format f, const void* src, int64_t n, int64_t k, float* dst);

// Activations for the bf16-product GEMM: rows of x rounded to bf16, padded with zeros to kp.
void rows_to_bf16(const float* x, int64_t m, int64_t k, int64_t kp, uint16_t* out);

}  // namespace vip
