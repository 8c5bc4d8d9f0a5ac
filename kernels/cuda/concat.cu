// Concat, SliceChannel, slice_axis and their backwards, float32: strided row copies.
// A block of `outer` rows of `row` elements each moves from src (row o at o*src_stride +
// src_off) to dst (row o at o*dst_stride + dst_off).
extern "C" __global__ void concat_copy_rows_f32(float* dst, const float* src, long long outer,
                                                long long row, long long src_stride,
                                                long long src_off, long long dst_stride,
                                                long long dst_off) {
    MXR_FOR(i, outer * row) {
        long long o = i / row, r = i - o * row;
        dst[o * dst_stride + dst_off + r] = src[o * src_stride + src_off + r];
    }
}
