/* tir_text.h — names shared by the tile IR printer and parser (internal). */
#ifndef ATTNC_IR_TIR_TEXT_H
#define ATTNC_IR_TIR_TEXT_H

#include <stdio.h>

#include "tile_ir.h"

extern const char *const tir_space_names[4];
extern const char *const tir_layout_names[6];
extern const char *const tir_tensor_names[TENSOR_COUNT];
extern const char *const tir_programs_names[PROG_COUNT];
extern const char *const tir_range_names[4];
extern const char *const tir_feature_names[3];
extern const char *const tir_decay_names[3];
extern const char *const tir_family_names[2];
extern const char *const tir_arch_names[3];
extern const char *const tir_inter_names[3];

#endif
