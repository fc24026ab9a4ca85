#include "image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

// An error manager whose error_exit longjmps back into the function that called setjmp, in C.
struct pipe_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void pipe_jpeg_error_exit(j_common_ptr info) {
    struct pipe_jpeg_error *error = (struct pipe_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->message);
    longjmp(error->jump, 1);
}

// Warnings (a truncated file, a damaged segment) are counted, not printed; the default prints to stderr.
static void pipe_jpeg_output_message(j_common_ptr info) {
    struct pipe_jpeg_error *error = (struct pipe_jpeg_error *)info->err;
    if (error->message[0] == '\0') (*info->err->format_message)(info, error->message);
}

// Installs the error manager on a (de)compressor; call setjmp(jerr->jump) right after, in the caller.
static struct jpeg_error_mgr *pipe_jpeg_errors(struct pipe_jpeg_error *jerr) {
    memset(jerr, 0, sizeof *jerr);
    struct jpeg_error_mgr *manager = jpeg_std_error(&jerr->manager);
    manager->error_exit = pipe_jpeg_error_exit;
    manager->output_message = pipe_jpeg_output_message;
    return manager;
}

static void set_error(char *error, size_t error_size, const char *prefix, const char *message) {
    if (error_size > 0) snprintf(error, error_size, "%s%s", prefix, message);
}

// Decodes into `into` when it is given and the image is want_width x want_height RGB (returns 1,
// writing nothing, for any other shape); otherwise into a new buffer returned in `*pixels`.
static int jpeg_decode(const uint8_t *data, size_t size, uint8_t *into, int want_width, int want_height,
                       uint8_t **pixels, int *width, int *height, int *channels, char *error, size_t error_size) {
    struct jpeg_decompress_struct info;
    struct pipe_jpeg_error jerr;
    // volatile: modified between setjmp and a possible longjmp.
    uint8_t *volatile buffer = NULL;
    *pixels = NULL;
    if (size == 0) {
        set_error(error, error_size, "", "empty JPEG data");
        return -1;
    }
    info.err = pipe_jpeg_errors(&jerr);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&info);
        if (buffer != into) free(buffer);
        set_error(error, error_size, "corrupt JPEG: ", jerr.message);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    if (info.image_width == 0 || info.image_height == 0 || info.image_width > PIPE_IMAGE_MAX_SIDE ||
        info.image_height > PIPE_IMAGE_MAX_SIDE) {
        snprintf(jerr.message, sizeof jerr.message, "unsupported size %ux%u", info.image_width, info.image_height);
        longjmp(jerr.jump, 1);
    }
    if (into != NULL && (info.num_components != 3 || (int)info.image_width != want_width || (int)info.image_height != want_height)) {
        jpeg_destroy_decompress(&info);
        return 1;
    }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    int stride = (int)(info.output_width * info.output_components);
    buffer = into != NULL ? into : malloc((size_t)stride * info.output_height);
    if (buffer == NULL) {
        snprintf(jerr.message, sizeof jerr.message, "out of memory");
        longjmp(jerr.jump, 1);
    }
    // Up to 16 rows per call: libjpeg decodes a whole MCU row at a time.
    while (info.output_scanline < info.output_height) {
        JSAMPROW rows[16];
        JDIMENSION count = info.output_height - info.output_scanline;
        if (count > 16) count = 16;
        for (JDIMENSION k = 0; k < count; k++) rows[k] = buffer + (size_t)(info.output_scanline + k) * stride;
        jpeg_read_scanlines(&info, rows, count);
    }
    jpeg_finish_decompress(&info);
    if (jerr.manager.num_warnings > 0) {
        char message[JMSG_LENGTH_MAX + 64];
        snprintf(message, sizeof message, "%s (%ld warnings)", jerr.message, jerr.manager.num_warnings);
        jpeg_destroy_decompress(&info);
        if (buffer != into) free(buffer);
        set_error(error, error_size, "corrupt or truncated JPEG: ", message);
        return -1;
    }
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    *channels = info.output_components;
    if (buffer != into) *pixels = buffer;
    jpeg_destroy_decompress(&info);
    return 0;
}

int pipe_jpeg_decode(const uint8_t *data, size_t size, uint8_t **pixels, int *width, int *height, int *channels,
                     char *error, size_t error_size) {
    return jpeg_decode(data, size, NULL, 0, 0, pixels, width, height, channels, error, error_size);
}

int pipe_jpeg_decode_into(const uint8_t *data, size_t size, uint8_t *pixels, int width, int height,
                          char *error, size_t error_size) {
    uint8_t *allocated = NULL;
    int w = 0, h = 0, c = 0;
    return jpeg_decode(data, size, pixels, width, height, &allocated, &w, &h, &c, error, error_size);
}

int pipe_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **output, size_t *output_size, char *error, size_t error_size) {
    struct jpeg_compress_struct info;
    struct pipe_jpeg_error jerr;
    unsigned char *volatile destination = NULL;
    unsigned long destination_size = 0;
    *output = NULL;
    *output_size = 0;
    if (width <= 0 || height <= 0 || width > PIPE_IMAGE_MAX_SIDE || height > PIPE_IMAGE_MAX_SIDE ||
        (channels != 1 && channels != 3) || quality < 1 || quality > 100) {
        set_error(error, error_size, "", "invalid JPEG encoding parameters");
        return -1;
    }
    info.err = pipe_jpeg_errors(&jerr);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&info);
        free(destination);
        set_error(error, error_size, "JPEG encoding failed: ", jerr.message);
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, (unsigned char **)&destination, &destination_size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = channels;
    info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    int stride = width * channels;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * stride);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *output = destination;
    *output_size = destination_size;
    return 0;
}

void pipe_image_free(void *pointer) { free(pointer); }
