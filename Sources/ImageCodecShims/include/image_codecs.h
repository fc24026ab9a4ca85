// JPEG and PNG encoding and decoding for pipe, over libjpeg(-turbo) and libpng.
// Each function keeps its setjmp/longjmp error handling inside C: no library error ever unwinds
// through a caller's frames, and no input can make the process exit or crash.
// Every function returns 0 on success, or -1 with a message in `error` (NUL-terminated).
#ifndef PIPE_IMAGE_CODECS_H
#define PIPE_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

/// Decodes a JPEG into 8-bit pixels, 1 (grayscale) or 3 (RGB) channels, rows top to bottom.
/// A truncated or damaged file (one that makes libjpeg warn) is an error. Free `*pixels` with pipe_image_free.
int pipe_jpeg_decode(const uint8_t *data, size_t size, uint8_t **pixels, int *width, int *height, int *channels,
                     char *error, size_t error_size);

/// Decodes a JPEG straight into `pixels` (width * height * 3 bytes) when it is an RGB image of that
/// size; returns 1, writing nothing, for any other shape (decode it with pipe_jpeg_decode then).
/// On an error `pixels` may be partly written.
int pipe_jpeg_decode_into(const uint8_t *data, size_t size, uint8_t *pixels, int width, int height,
                          char *error, size_t error_size);

/// Encodes 8-bit pixels (1 or 3 channels) as a baseline JPEG of `quality` (1-100). The same input
/// gives the same bytes. Free `*output` with pipe_image_free.
int pipe_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **output, size_t *output_size, char *error, size_t error_size);

/// Decodes a PNG into 8-bit pixels, 1 (gray) or 3 (RGB) channels: palettes are expanded, 16-bit
/// samples reduced, alpha dropped. Free `*pixels` with pipe_image_free.
int pipe_png_decode(const uint8_t *data, size_t size, uint8_t **pixels, int *width, int *height, int *channels,
                    char *error, size_t error_size);

/// Encodes 8-bit pixels (1 or 3 channels) as a PNG. Free `*output` with pipe_image_free.
int pipe_png_encode(const uint8_t *pixels, int width, int height, int channels,
                    uint8_t **output, size_t *output_size, char *error, size_t error_size);

/// Frees a buffer returned by the functions above.
void pipe_image_free(void *pointer);

/// The largest width or height accepted, so that a forged header cannot ask for a huge allocation.
#define PIPE_IMAGE_MAX_SIDE 16384

#endif
