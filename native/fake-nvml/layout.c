/* nvml-layout: prints the size and field offsets of every struct in nvml.h as JSON, for ABI tests.
 * {"nvmlMemory_t":{"size":24,"fields":{"total":0,"free":8,"used":16}}, ...} */
#include <stddef.h>
#include <stdio.h>

#include "nvml.h"

static int g_first_struct = 1, g_first_field;

static void begin(const char *name, size_t size)
{
    printf("%s\n  \"%s\": {\"size\": %zu, \"fields\": {", g_first_struct ? "{" : ",", name, size);
    g_first_struct = 0;
    g_first_field = 1;
}

static void field(const char *name, size_t off)
{
    printf("%s\"%s\": %zu", g_first_field ? "" : ", ", name, off);
    g_first_field = 0;
}

static void end(void)
{
    printf("}}");
}

#define S(T) begin(#T, sizeof(T))
#define F(T, f) field(#f, offsetof(T, f))

int main(void)
{
    S(nvmlMemory_t); F(nvmlMemory_t, total); F(nvmlMemory_t, free); F(nvmlMemory_t, used); end();
    S(nvmlMemory_v2_t); F(nvmlMemory_v2_t, version); F(nvmlMemory_v2_t, total); F(nvmlMemory_v2_t, reserved);
    F(nvmlMemory_v2_t, free); F(nvmlMemory_v2_t, used); end();
    S(nvmlUtilization_t); F(nvmlUtilization_t, gpu); F(nvmlUtilization_t, memory); end();
    S(nvmlProcessInfo_v1_t); F(nvmlProcessInfo_v1_t, pid); F(nvmlProcessInfo_v1_t, usedGpuMemory); end();
    S(nvmlProcessInfo_t); F(nvmlProcessInfo_t, pid); F(nvmlProcessInfo_t, usedGpuMemory);
    F(nvmlProcessInfo_t, gpuInstanceId); F(nvmlProcessInfo_t, computeInstanceId); end();
    S(nvmlProcessDetail_v1_t); F(nvmlProcessDetail_v1_t, pid); F(nvmlProcessDetail_v1_t, usedGpuMemory);
    F(nvmlProcessDetail_v1_t, gpuInstanceId); F(nvmlProcessDetail_v1_t, computeInstanceId);
    F(nvmlProcessDetail_v1_t, usedGpuCcProtectedMemory); end();
    S(nvmlProcessDetailList_v1_t); F(nvmlProcessDetailList_v1_t, version); F(nvmlProcessDetailList_v1_t, mode);
    F(nvmlProcessDetailList_v1_t, numProcArrayEntries); F(nvmlProcessDetailList_v1_t, procArray); end();
    S(nvmlProcessUtilizationSample_t); F(nvmlProcessUtilizationSample_t, pid);
    F(nvmlProcessUtilizationSample_t, timeStamp); F(nvmlProcessUtilizationSample_t, smUtil);
    F(nvmlProcessUtilizationSample_t, memUtil); F(nvmlProcessUtilizationSample_t, encUtil);
    F(nvmlProcessUtilizationSample_t, decUtil); end();
    S(nvmlPciInfo_t); F(nvmlPciInfo_t, busIdLegacy); F(nvmlPciInfo_t, domain); F(nvmlPciInfo_t, bus);
    F(nvmlPciInfo_t, device); F(nvmlPciInfo_t, pciDeviceId); F(nvmlPciInfo_t, pciSubSystemId); F(nvmlPciInfo_t, busId);
    end();
    S(nvmlEventData_t); F(nvmlEventData_t, device); F(nvmlEventData_t, eventType); F(nvmlEventData_t, eventData);
    F(nvmlEventData_t, gpuInstanceId); F(nvmlEventData_t, computeInstanceId); end();
    S(nvmlTemperature_v1_t); F(nvmlTemperature_v1_t, version); F(nvmlTemperature_v1_t, sensorType);
    F(nvmlTemperature_v1_t, temperature); end();
    S(nvmlGpuInstanceProfileInfo_t); F(nvmlGpuInstanceProfileInfo_t, id); F(nvmlGpuInstanceProfileInfo_t, isP2pSupported);
    F(nvmlGpuInstanceProfileInfo_t, sliceCount); F(nvmlGpuInstanceProfileInfo_t, instanceCount);
    F(nvmlGpuInstanceProfileInfo_t, multiprocessorCount); F(nvmlGpuInstanceProfileInfo_t, copyEngineCount);
    F(nvmlGpuInstanceProfileInfo_t, decoderCount); F(nvmlGpuInstanceProfileInfo_t, encoderCount);
    F(nvmlGpuInstanceProfileInfo_t, jpegCount); F(nvmlGpuInstanceProfileInfo_t, ofaCount);
    F(nvmlGpuInstanceProfileInfo_t, memorySizeMB); end();
    S(nvmlGpuInstanceProfileInfo_v2_t); F(nvmlGpuInstanceProfileInfo_v2_t, version); F(nvmlGpuInstanceProfileInfo_v2_t, id);
    F(nvmlGpuInstanceProfileInfo_v2_t, isP2pSupported); F(nvmlGpuInstanceProfileInfo_v2_t, sliceCount);
    F(nvmlGpuInstanceProfileInfo_v2_t, instanceCount); F(nvmlGpuInstanceProfileInfo_v2_t, multiprocessorCount);
    F(nvmlGpuInstanceProfileInfo_v2_t, copyEngineCount); F(nvmlGpuInstanceProfileInfo_v2_t, decoderCount);
    F(nvmlGpuInstanceProfileInfo_v2_t, encoderCount); F(nvmlGpuInstanceProfileInfo_v2_t, jpegCount);
    F(nvmlGpuInstanceProfileInfo_v2_t, ofaCount); F(nvmlGpuInstanceProfileInfo_v2_t, memorySizeMB);
    F(nvmlGpuInstanceProfileInfo_v2_t, name); end();
    S(nvmlGpuInstanceProfileInfo_v3_t); F(nvmlGpuInstanceProfileInfo_v3_t, version); F(nvmlGpuInstanceProfileInfo_v3_t, id);
    F(nvmlGpuInstanceProfileInfo_v3_t, sliceCount); F(nvmlGpuInstanceProfileInfo_v3_t, instanceCount);
    F(nvmlGpuInstanceProfileInfo_v3_t, multiprocessorCount); F(nvmlGpuInstanceProfileInfo_v3_t, copyEngineCount);
    F(nvmlGpuInstanceProfileInfo_v3_t, decoderCount); F(nvmlGpuInstanceProfileInfo_v3_t, encoderCount);
    F(nvmlGpuInstanceProfileInfo_v3_t, jpegCount); F(nvmlGpuInstanceProfileInfo_v3_t, ofaCount);
    F(nvmlGpuInstanceProfileInfo_v3_t, memorySizeMB); F(nvmlGpuInstanceProfileInfo_v3_t, name);
    F(nvmlGpuInstanceProfileInfo_v3_t, capabilities); end();
    S(nvmlGpuInstancePlacement_t); F(nvmlGpuInstancePlacement_t, start); F(nvmlGpuInstancePlacement_t, size); end();
    S(nvmlGpuInstanceInfo_t); F(nvmlGpuInstanceInfo_t, device); F(nvmlGpuInstanceInfo_t, id);
    F(nvmlGpuInstanceInfo_t, profileId); F(nvmlGpuInstanceInfo_t, placement); end();
    S(nvmlComputeInstancePlacement_t); F(nvmlComputeInstancePlacement_t, start); F(nvmlComputeInstancePlacement_t, size);
    end();
    S(nvmlComputeInstanceProfileInfo_t); F(nvmlComputeInstanceProfileInfo_t, id);
    F(nvmlComputeInstanceProfileInfo_t, sliceCount); F(nvmlComputeInstanceProfileInfo_t, instanceCount);
    F(nvmlComputeInstanceProfileInfo_t, multiprocessorCount); F(nvmlComputeInstanceProfileInfo_t, sharedCopyEngineCount);
    F(nvmlComputeInstanceProfileInfo_t, sharedDecoderCount); F(nvmlComputeInstanceProfileInfo_t, sharedEncoderCount);
    F(nvmlComputeInstanceProfileInfo_t, sharedJpegCount); F(nvmlComputeInstanceProfileInfo_t, sharedOfaCount); end();
    S(nvmlComputeInstanceInfo_t); F(nvmlComputeInstanceInfo_t, device); F(nvmlComputeInstanceInfo_t, gpuInstance);
    F(nvmlComputeInstanceInfo_t, id); F(nvmlComputeInstanceInfo_t, profileId); F(nvmlComputeInstanceInfo_t, placement);
    end();
    printf("\n}\n");
    return 0;
}
