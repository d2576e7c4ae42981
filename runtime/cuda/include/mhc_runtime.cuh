// mhc_runtime.cuh: everything a generated .cu includes.
#pragma once

#include "../mhc.h"
#include "mhc_common.cuh"
#include "mhc_vec.cuh"
#include "mhc_reduce.cuh"
#include "mhc_prenorm.cuh"
#include "mhc_mix.cuh"
#include "mhc_lanes.cuh"
#include "mhc_post_prenorm.cuh"
#include "mhc_small_prenorm.cuh"
#include "mhc_launch.cuh"
