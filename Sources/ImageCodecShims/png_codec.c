#include "image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

struct pipe_png_state {
    const uint8_t *data;
    size_t size;
    size_t offset;
    uint8_t *output;
    size_t output_size;
    size_t output_capacity;
    int failed;
    char message[256];
};

// libpng calls this on an error; it must not return, so it longjmps to the setjmp in the caller (C).
static void pipe_png_error(png_structp png, png_const_charp message) {
    struct pipe_png_state *state = (struct pipe_png_state *)png_get_error_ptr(png);
    snprintf(state->message, sizeof state->message, "%s", message);
    png_longjmp(png, 1);
}

static void pipe_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void pipe_png_read(png_structp png, png_bytep out, png_size_t count) {
    struct pipe_png_state *state = (struct pipe_png_state *)png_get_io_ptr(png);
    if (count > state->size - state->offset) png_error(png, "truncated PNG data");
    memcpy(out, state->data + state->offset, count);
    state->offset += count;
}

static void pipe_png_write(png_structp png, png_bytep in, png_size_t count) {
    struct pipe_png_state *state = (struct pipe_png_state *)png_get_io_ptr(png);
    if (state->output_size + count > state->output_capacity) {
        size_t capacity = state->output_capacity ? state->output_capacity * 2 : 4096;
        while (capacity < state->output_size + count) capacity *= 2;
        uint8_t *grown = realloc(state->output, capacity);
        if (grown == NULL) png_error(png, "out of memory");
        state->output = grown;
        state->output_capacity = capacity;
    }
    memcpy(state->output + state->output_size, in, count);
    state->output_size += count;
}

static void pipe_png_flush(png_structp png) { (void)png; }

static uint32_t big_endian(const uint8_t *bytes) {
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

// The fewest bytes a row of `width` pixels takes before compression (with its filter byte), or 0
// for a color type and bit depth libpng would refuse.
static uint64_t png_row_bytes(uint32_t width, int depth, int color) {
    int samples = color == 0 ? 1 : color == 2 ? 3 : color == 3 ? 1 : color == 4 ? 2 : color == 6 ? 4 : 0;
    if (samples == 0 || (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16)) return 0;
    return 1 + ((uint64_t)width * samples * depth + 7) / 8;
}

// Walks the chunk headers (not their data) and checks the sizes they declare against the limits:
// IHDR's width x height against `max_pixels`, each other chunk but IDAT against
// PIPE_PNG_MAX_CHUNK_BYTES, their number against PIPE_PNG_MAX_CHUNKS. Returns 0, or
// PIPE_IMAGE_TOO_LARGE with the message, or -1 when the image data present cannot hold the image
// (deflate expands at most 1032 times: a forged header over a short stream is refused before the
// rows are allocated). Other damage is left for libpng to report.
static int png_check_sizes(const uint8_t *data, size_t size, uint64_t max_pixels, char *error, size_t error_size) {
    size_t offset = 8;
    int chunks = 0;
    uint64_t raw = 0, compressed = 0;
    uint32_t w = 0, h = 0;
    while (size - offset >= 8) {
        uint32_t length = big_endian(data + offset);
        const uint8_t *type = data + offset + 4;
        char name[5];
        for (int i = 0; i < 4; i++) name[i] = (type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z') ? (char)type[i] : '?';
        name[4] = '\0';
        if (length > 0x7fffffffu) return 0;
        if (memcmp(type, "IHDR", 4) == 0 && length >= 13 && size - offset >= 8 + 13) {
            w = big_endian(data + offset + 8);
            h = big_endian(data + offset + 12);
            raw = png_row_bytes(w, data[offset + 16], data[offset + 17]) * h;
            if ((uint64_t)w * h > max_pixels) {
                snprintf(error, error_size, "PNG is %u x %u, beyond the size limit of %llu pixels", w, h, (unsigned long long)max_pixels);
                return PIPE_IMAGE_TOO_LARGE;
            }
        } else if (memcmp(type, "IDAT", 4) == 0) {
            size_t present = size - offset - 8;
            compressed += length < present ? length : present;
        } else {
            if (length > PIPE_PNG_MAX_CHUNK_BYTES) {
                snprintf(error, error_size, "PNG chunk `%s` declares %u bytes, beyond the size limit of %u bytes per chunk",
                         name, length, PIPE_PNG_MAX_CHUNK_BYTES);
                return PIPE_IMAGE_TOO_LARGE;
            }
            if (++chunks > PIPE_PNG_MAX_CHUNKS) {
                snprintf(error, error_size, "PNG has more than %d chunks besides its image data, beyond the size limit of %d",
                         PIPE_PNG_MAX_CHUNKS, PIPE_PNG_MAX_CHUNKS);
                return PIPE_IMAGE_TOO_LARGE;
            }
        }
        if (memcmp(type, "IEND", 4) == 0 || size - offset - 8 < (size_t)length + 4) break;
        offset += 12 + (size_t)length;
    }
    if (raw > compressed * 1032 + 4096) {
        snprintf(error, error_size, "truncated PNG: %llu bytes of image data cannot hold %u x %u pixels",
                 (unsigned long long)compressed, w, h);
        return -1;
    }
    return 0;
}

int pipe_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t **pixels, int *width, int *height,
                    int *channels, char *error, size_t error_size) {
    struct pipe_png_state state;
    memset(&state, 0, sizeof state);
    state.data = data;
    state.size = size;
    *pixels = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(error, error_size, "not a PNG file");
        return -1;
    }
    int checked = png_check_sizes(data, size, max_pixels, error, error_size);
    if (checked != 0) return checked;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, pipe_png_error, pipe_png_warning);
    if (png == NULL) {
        snprintf(error, error_size, "cannot initialize libpng");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile buffer = NULL;
    png_bytep *volatile rows = NULL;
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(error, error_size, "cannot initialize libpng");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(buffer);
        free(rows);
        snprintf(error, error_size, "corrupt PNG: %s", state.message[0] ? state.message : "unknown error");
        return -1;
    }
    png_set_read_fn(png, &state, pipe_png_read);
    // libpng's own limits, behind the checks above: the pixel cap is ours, sides are libpng's maximum.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, PIPE_PNG_MAX_CHUNK_BYTES);
    png_set_chunk_cache_max(png, PIPE_PNG_MAX_CHUNKS);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((uint64_t)w * h > max_pixels) png_error(png, "image beyond the pixel limit");
    int color = png_get_color_type(png, info);
    if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int out_channels = png_get_channels(png, info);
    if (out_channels != 1 && out_channels != 3) png_error(png, "unsupported channel layout");
    size_t stride = png_get_rowbytes(png, info);
    buffer = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (buffer == NULL || rows == NULL) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buffer + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *pixels = buffer;
    *width = (int)w;
    *height = (int)h;
    *channels = out_channels;
    return 0;
}

int pipe_png_encode(const uint8_t *pixels, int width, int height, int channels,
                    uint8_t **output, size_t *output_size, char *error, size_t error_size) {
    struct pipe_png_state state;
    memset(&state, 0, sizeof state);
    *output = NULL;
    *output_size = 0;
    if (width <= 0 || height <= 0 || width > PIPE_IMAGE_MAX_SIDE || height > PIPE_IMAGE_MAX_SIDE ||
        (channels != 1 && channels != 3)) {
        snprintf(error, error_size, "invalid PNG encoding parameters");
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, pipe_png_error, pipe_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        snprintf(error, error_size, "cannot initialize libpng");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(state.output);
        snprintf(error, error_size, "PNG encoding failed: %s", state.message);
        return -1;
    }
    png_set_write_fn(png, &state, pipe_png_write, pipe_png_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *output = state.output;
    *output_size = state.output_size;
    return 0;
}
