package k8sretry

/*
#include <k8sretry.h>
// Declared here, defined by the //export in events.go (a file with //export may hold no definitions).
extern void goK8sretryEvent(void *userdata, k8sretry_event *event);
static inline k8sretry_status k8sretry_go_set_callback(void) {
	return k8sretry_set_event_callback((k8sretry_event_fn)goK8sretryEvent, NULL);
}
*/
import "C"

func setGoCallback() { C.k8sretry_go_set_callback() }
