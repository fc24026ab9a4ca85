// JPEG and PNG encoding and decoding for pipe, over libjpeg(-turbo) and libpng.
// Each function keeps its setjmp/longjmp error handling inside C: no library error ever unwinds
// through a caller's frames, and no input can make the process exit or crash.
// Every function returns 0 on success, or -1 with a message in `error` (NUL-terminated), or
// PIPE_IMAGE_TOO_LARGE when the image passes a size limit (the message names the limit). Decoders
// check a header's declared sizes against the limits before they allocate for them.
#ifndef PIPE_IMAGE_CODECS_H
#define PIPE_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

/// The status of a decoder refusing an image beyond a size limit.
#define PIPE_IMAGE_TOO_LARGE (-2)

/// Decodes a JPEG into 8-bit pixels, 1 (grayscale) or 3 (RGB) channels, rows top to bottom; CMYK and
/// YCCK JPEGs are converted to RGB (Adobe's inverted CMYK, as Photoshop saves it, when the file has
/// an Adobe marker). More than `max_pixels` pixels is refused before any allocation.
/// A truncated or damaged file (one that makes libjpeg warn) is an error. Free `*pixels` with pipe_image_free.
int pipe_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t **pixels, int *width, int *height,
                     int *channels, char *error, size_t error_size);

/// Decodes a JPEG straight into `pixels` (width * height * 3 bytes) when it is an RGB image of that
/// size; returns 1, writing nothing, for any other shape (decode it with pipe_jpeg_decode then).
/// On an error `pixels` may be partly written.
int pipe_jpeg_decode_into(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *pixels, int width, int height,
                          char *error, size_t error_size);

/// Encodes 8-bit CMYK pixels (4 channels, 0 = no ink) as a JPEG; with `adobe_inverted` the samples
/// are stored inverted under an Adobe marker, as Photoshop does, else without an Adobe marker.
/// Test fixtures use it. Free `*output` with pipe_image_free.
int pipe_jpeg_encode_cmyk(const uint8_t *pixels, int width, int height, int adobe_inverted,
                          uint8_t **output, size_t *output_size, char *error, size_t error_size);

/// Encodes 8-bit pixels (1 or 3 channels) as a baseline JPEG of `quality` (1-100). The same input
/// gives the same bytes. Free `*output` with pipe_image_free.
int pipe_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **output, size_t *output_size, char *error, size_t error_size);

/// Encodes 8-bit gray pixels as a progressive JPEG of 1 + 63 x (1 + `refinements`) scans (0-10
/// refinements): the DC, then each AC coefficient alone, refined bit by bit. Test fixtures use it
/// for the scan limit. Free `*output` with pipe_image_free.
int pipe_jpeg_encode_progressive_gray(const uint8_t *pixels, int width, int height, int refinements,
                                      uint8_t **output, size_t *output_size, char *error, size_t error_size);

/// Decodes a PNG into 8-bit pixels, 1 (gray) or 3 (RGB) channels: palettes are expanded, 16-bit
/// samples reduced, alpha dropped. More than `max_pixels` pixels, an ancillary chunk of more than
/// PIPE_PNG_MAX_CHUNK_BYTES or more than PIPE_PNG_MAX_CHUNKS of them is refused before libpng
/// allocates for it. Free `*pixels` with pipe_image_free.
int pipe_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t **pixels, int *width, int *height,
                    int *channels, char *error, size_t error_size);

/// Encodes 8-bit pixels (1 or 3 channels) as a PNG. Free `*output` with pipe_image_free.
int pipe_png_encode(const uint8_t *pixels, int width, int height, int channels,
                    uint8_t **output, size_t *output_size, char *error, size_t error_size);

/// Frees a buffer returned by the functions above.
void pipe_image_free(void *pointer);

/// The largest width or height an encoder accepts.
#define PIPE_IMAGE_MAX_SIDE 16384

/// The default pixel cap of the decoders (width x height), as the unpack stage uses it.
#define PIPE_IMAGE_DEFAULT_MAX_PIXELS 50000000ULL

/// The most bytes one PNG chunk other than IDAT may declare (text, ICC profile, unknown chunks).
#define PIPE_PNG_MAX_CHUNK_BYTES 8000000u

/// The most PNG chunks other than IDAT in one file.
#define PIPE_PNG_MAX_CHUNKS 1000

/// The most scans a (progressive) JPEG may have; each one is a pass over the whole image.
#define PIPE_JPEG_MAX_SCANS 500

#endif
