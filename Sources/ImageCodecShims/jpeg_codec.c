#include "image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// An error manager whose error_exit longjmps back into the function that called setjmp, in C.
struct pipe_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
    /// Set when the error is a size limit, not damage.
    int limit;
};

static void pipe_jpeg_error_exit(j_common_ptr info) {
    struct pipe_jpeg_error *error = (struct pipe_jpeg_error *)info->err;
    if (info->err->msg_code == JERR_NO_BACKING_STORE && info->is_decompressor) {
        // libjpeg asks for a backing store when its arrays would pass max_memory_to_use.
        snprintf(error->message, sizeof error->message, "JPEG needs more than %ld MB to decode, beyond the size limit",
                 info->mem->max_memory_to_use >> 20);
        error->limit = 1;
    } else {
        (*info->err->format_message)(info, error->message);
    }
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

// Called by libjpeg as it consumes input: a progressive JPEG of thousands of tiny scans costs a pass
// over the whole image each, so the number of scans is capped (as djpeg -maxscans does).
static void pipe_jpeg_progress(j_common_ptr info) {
    j_decompress_ptr decompress = (j_decompress_ptr)info;
    if (decompress->input_scan_number <= PIPE_JPEG_MAX_SCANS) return;
    struct pipe_jpeg_error *error = (struct pipe_jpeg_error *)info->err;
    snprintf(error->message, sizeof error->message, "JPEG has more than %d scans, beyond the size limit of %d scans",
             PIPE_JPEG_MAX_SCANS, PIPE_JPEG_MAX_SCANS);
    error->limit = 1;
    longjmp(error->jump, 1);
}

static void set_error(char *error, size_t error_size, const char *prefix, const char *message) {
    if (error_size > 0) snprintf(error, error_size, "%s%s", prefix, message);
}

// CMYK samples to RGB. `inverted`: the samples are Adobe's (Photoshop's) inverted CMYK, 255 = no ink.
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, JDIMENSION width, int inverted) {
    for (JDIMENSION x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        unsigned k = inverted ? cmyk[3] : 255u - cmyk[3];
        for (int c = 0; c < 3; c++) {
            unsigned v = inverted ? cmyk[c] : 255u - cmyk[c];
            rgb[c] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

// Decodes into `into` when it is given and the image is want_width x want_height RGB (returns 1,
// writing nothing, for any other shape); otherwise into a new buffer returned in `*pixels`.
static int jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *into, int want_width,
                       int want_height, uint8_t **pixels, int *width, int *height, int *channels, char *error,
                       size_t error_size) {
    struct jpeg_decompress_struct info;
    struct pipe_jpeg_error jerr;
    struct jpeg_progress_mgr progress = {.progress_monitor = pipe_jpeg_progress};
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
        set_error(error, error_size, jerr.limit ? "" : "corrupt JPEG: ", jerr.message);
        return jerr.limit ? PIPE_IMAGE_TOO_LARGE : -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    // The header's size, before anything is allocated for it.
    if (info.image_width == 0 || info.image_height == 0) {
        snprintf(jerr.message, sizeof jerr.message, "unsupported size %ux%u", info.image_width, info.image_height);
        longjmp(jerr.jump, 1);
    }
    if ((uint64_t)info.image_width * info.image_height > max_pixels) {
        snprintf(jerr.message, sizeof jerr.message, "JPEG is %u x %u, beyond the size limit of %llu pixels",
                 info.image_width, info.image_height, (unsigned long long)max_pixels);
        jerr.limit = 1;
        longjmp(jerr.jump, 1);
    }
    // Huffman coding spends at least one bit on each block of a component it codes: a file too short
    // to hold even its smallest component's blocks is truncated, and refused before libjpeg allocates
    // the image (a progressive JPEG's coefficient buffers are allocated, zeroed, before any data is read).
    if (!info.arith_code) {
        uint64_t fewest = UINT64_MAX;
        for (int c = 0; c < info.num_components; c++) {
            uint64_t blocks = (uint64_t)info.comp_info[c].width_in_blocks * info.comp_info[c].height_in_blocks;
            if (blocks < fewest) fewest = blocks;
        }
        if ((uint64_t)size * 8 < fewest) {
            snprintf(jerr.message, sizeof jerr.message, "%zu bytes cannot hold a %u x %u image (truncated)", size,
                     info.image_width, info.image_height);
            longjmp(jerr.jump, 1);
        }
    }
    int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    if (info.num_components != 1 && info.num_components != 3 && !(info.num_components == 4 && cmyk)) {
        snprintf(jerr.message, sizeof jerr.message, "unsupported JPEG with %d color components", info.num_components);
        longjmp(jerr.jump, 1);
    }
    if (into != NULL && (info.num_components != 3 || (int)info.image_width != want_width || (int)info.image_height != want_height)) {
        jpeg_destroy_decompress(&info);
        return 1;
    }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
    // Progressive coefficient buffers are libjpeg's largest allocation: bound them by the pixel cap.
    uint64_t budget = max_pixels > ((uint64_t)1 << 40) ? (uint64_t)1 << 43 : max_pixels * 8 + ((uint64_t)64 << 20);
    info.mem->max_memory_to_use = (long)budget;
    info.progress = &progress;
    jpeg_start_decompress(&info);
    int out_channels = cmyk ? 3 : info.output_components;
    size_t stride = (size_t)info.output_width * out_channels;
    buffer = into != NULL ? into : malloc(stride * info.output_height);
    if (buffer == NULL) {
        snprintf(jerr.message, sizeof jerr.message, "out of memory");
        longjmp(jerr.jump, 1);
    }
    // CMYK rows land in libjpeg's own pool (freed with the decompressor) and are converted from there.
    JSAMPARRAY cmyk_rows = cmyk ? (*info.mem->alloc_sarray)((j_common_ptr)&info, JPOOL_IMAGE, info.output_width * 4, 16) : NULL;
    int inverted = info.saw_Adobe_marker;
    // Up to 16 rows per call: libjpeg decodes a whole MCU row at a time.
    while (info.output_scanline < info.output_height) {
        JSAMPROW rows[16];
        JDIMENSION first = info.output_scanline, count = info.output_height - first;
        if (count > 16) count = 16;
        for (JDIMENSION k = 0; k < count; k++) rows[k] = cmyk ? cmyk_rows[k] : buffer + (size_t)(first + k) * stride;
        JDIMENSION got = jpeg_read_scanlines(&info, rows, count);
        for (JDIMENSION k = 0; cmyk && k < got; k++) {
            cmyk_to_rgb(cmyk_rows[k], buffer + (size_t)(first + k) * stride, info.output_width, inverted);
        }
    }
    jpeg_finish_decompress(&info);
    if (jerr.manager.num_warnings > 0) {
        char message[JMSG_LENGTH_MAX + 128];
        snprintf(message, sizeof message, "%s (%ld warnings)", jerr.message, jerr.manager.num_warnings);
        jpeg_destroy_decompress(&info);
        if (buffer != into) free(buffer);
        set_error(error, error_size, "corrupt or truncated JPEG: ", message);
        return -1;
    }
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    *channels = out_channels;
    if (buffer != into) *pixels = buffer;
    jpeg_destroy_decompress(&info);
    return 0;
}

int pipe_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t **pixels, int *width, int *height,
                     int *channels, char *error, size_t error_size) {
    return jpeg_decode(data, size, max_pixels, NULL, 0, 0, pixels, width, height, channels, error, error_size);
}

int pipe_jpeg_decode_into(const uint8_t *data, size_t size, uint64_t max_pixels, uint8_t *pixels, int width, int height,
                          char *error, size_t error_size) {
    uint8_t *allocated = NULL;
    int w = 0, h = 0, c = 0;
    return jpeg_decode(data, size, max_pixels, pixels, width, height, &allocated, &w, &h, &c, error, error_size);
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

int pipe_jpeg_encode_cmyk(const uint8_t *pixels, int width, int height, int adobe_inverted,
                          uint8_t **output, size_t *output_size, char *error, size_t error_size) {
    struct jpeg_compress_struct info;
    struct pipe_jpeg_error jerr;
    unsigned char *volatile destination = NULL;
    unsigned long destination_size = 0;
    uint8_t *volatile row = NULL;
    *output = NULL;
    *output_size = 0;
    if (width <= 0 || height <= 0 || width > PIPE_IMAGE_MAX_SIDE || height > PIPE_IMAGE_MAX_SIDE) {
        set_error(error, error_size, "", "invalid JPEG encoding parameters");
        return -1;
    }
    info.err = pipe_jpeg_errors(&jerr);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&info);
        free(destination);
        free(row);
        set_error(error, error_size, "JPEG encoding failed: ", jerr.message);
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, (unsigned char **)&destination, &destination_size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = 4;
    info.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, 100, TRUE);
    info.write_Adobe_marker = adobe_inverted ? TRUE : FALSE;
    jpeg_start_compress(&info, TRUE);
    row = malloc((size_t)width * 4);
    if (row == NULL) {
        snprintf(jerr.message, sizeof jerr.message, "out of memory");
        longjmp(jerr.jump, 1);
    }
    while (info.next_scanline < info.image_height) {
        const uint8_t *source = pixels + (size_t)info.next_scanline * width * 4;
        for (size_t i = 0; i < (size_t)width * 4; i++) row[i] = adobe_inverted ? (uint8_t)(255 - source[i]) : source[i];
        JSAMPROW rows[1] = {row};
        jpeg_write_scanlines(&info, rows, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    free(row);
    *output = destination;
    *output_size = destination_size;
    return 0;
}

int pipe_jpeg_encode_progressive_gray(const uint8_t *pixels, int width, int height, int refinements,
                                      uint8_t **output, size_t *output_size, char *error, size_t error_size) {
    struct jpeg_compress_struct info;
    struct pipe_jpeg_error jerr;
    unsigned char *volatile destination = NULL;
    unsigned long destination_size = 0;
    jpeg_scan_info *volatile scans = NULL;
    *output = NULL;
    *output_size = 0;
    if (width <= 0 || height <= 0 || width > PIPE_IMAGE_MAX_SIDE || height > PIPE_IMAGE_MAX_SIDE || refinements < 0 ||
        refinements > 10) {
        set_error(error, error_size, "", "invalid JPEG encoding parameters");
        return -1;
    }
    info.err = pipe_jpeg_errors(&jerr);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&info);
        free(destination);
        free(scans);
        set_error(error, error_size, "JPEG encoding failed: ", jerr.message);
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, (unsigned char **)&destination, &destination_size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = 1;
    info.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&info);
    // The DC scan, then each AC coefficient in its own band: a first scan, then `refinements` more.
    int count = 1 + 63 * (1 + refinements);
    scans = calloc((size_t)count, sizeof *scans);
    if (scans == NULL) {
        snprintf(jerr.message, sizeof jerr.message, "out of memory");
        longjmp(jerr.jump, 1);
    }
    scans[0].comps_in_scan = 1;
    for (int k = 1, n = 1; k <= 63; k++) {
        for (int pass = 0; pass <= refinements; pass++, n++) {
            scans[n].comps_in_scan = 1;
            scans[n].Ss = scans[n].Se = k;
            scans[n].Ah = pass == 0 ? 0 : refinements - pass + 1;
            scans[n].Al = refinements - pass;
        }
    }
    info.scan_info = scans;
    info.num_scans = count;
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * width);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    free(scans);
    *output = destination;
    *output_size = destination_size;
    return 0;
}

void pipe_image_free(void *pointer) { free(pointer); }
