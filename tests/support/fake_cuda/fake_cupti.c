/* A fake libcupti.so.13 for the tests: it stands for NVIDIA's CUPTI where there is no GPU. It
 * keeps the one subscriber's callback and the callbacks it enabled (cuptiSubscribe,
 * cuptiEnableCallback, as the real CUPTI does), and lets the test workload deliver driver API exit
 * callbacks and graph resource callbacks (fake_cupti_driver_exit, fake_cupti_graph_resource) that
 * CUDA would deliver around stream capture, instantiation and graph launches. Only enabled
 * callbacks are delivered. It is never part of flopledger. */
#include <cupti_callbacks.h>

#include <stddef.h>

static CUpti_CallbackFunc g_callback;
static void *g_userdata;
static unsigned char g_enabled[2][1024]; /* [driver, resource][cbid] */

static int slot(CUpti_CallbackDomain domain) {
  return domain == CUPTI_CB_DOMAIN_DRIVER_API ? 0 : domain == CUPTI_CB_DOMAIN_RESOURCE ? 1 : -1;
}

CUptiResult cuptiSubscribe(CUpti_SubscriberHandle *subscriber, CUpti_CallbackFunc callback,
                           void *userdata) {
  if (g_callback != NULL) return CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED;
  g_callback = callback;
  g_userdata = userdata;
  *subscriber = (CUpti_SubscriberHandle)&g_callback;
  return CUPTI_SUCCESS;
}

CUptiResult cuptiUnsubscribe(CUpti_SubscriberHandle subscriber) {
  (void)subscriber;
  g_callback = NULL;
  return CUPTI_SUCCESS;
}

CUptiResult cuptiEnableCallback(uint32_t enable, CUpti_SubscriberHandle subscriber,
                                CUpti_CallbackDomain domain, CUpti_CallbackId cbid) {
  const int s = slot(domain);
  if (subscriber != (CUpti_SubscriberHandle)&g_callback || s < 0 || cbid >= 1024)
    return CUPTI_ERROR_INVALID_PARAMETER;
  g_enabled[s][cbid] = enable != 0;
  return CUPTI_SUCCESS;
}

/* 1 when a subscriber enabled callback `cbid` of `domain`. */
int fake_cupti_enabled(CUpti_CallbackDomain domain, CUpti_CallbackId cbid) {
  const int s = slot(domain);
  return g_callback != NULL && s >= 0 && cbid < 1024 && g_enabled[s][cbid];
}

/* The exit callback of driver call `cbid` with its parameter struct and result. */
void fake_cupti_driver_exit(CUpti_CallbackId cbid, const void *params, CUresult result) {
  if (!fake_cupti_enabled(CUPTI_CB_DOMAIN_DRIVER_API, cbid)) return;
  CUpti_CallbackData data = {0};
  data.callbackSite = CUPTI_API_EXIT;
  data.functionParams = params;
  data.functionReturnValue = &result;
  g_callback(g_userdata, CUPTI_CB_DOMAIN_DRIVER_API, cbid, &data);
}

/* A graph resource callback. */
void fake_cupti_graph_resource(CUpti_CallbackId cbid, CUgraph graph, CUgraph original,
                               CUgraphExec exec) {
  if (!fake_cupti_enabled(CUPTI_CB_DOMAIN_RESOURCE, cbid)) return;
  CUpti_GraphData graph_data = {0};
  graph_data.graph = graph;
  graph_data.originalGraph = original;
  graph_data.graphExec = exec;
  CUpti_ResourceData data = {0};
  data.resourceDescriptor = &graph_data;
  g_callback(g_userdata, CUPTI_CB_DOMAIN_RESOURCE, cbid, &data);
}
