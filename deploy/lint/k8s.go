package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// rtpPortsAnnotation on the worker's pod template is the bridge's RTP port
// range: the trunks' rtp_port_min-rtp_port_max, open on the nodes.
const rtpPortsAnnotation = "dialq.io/rtp-ports"

// Kubernetes' default NodePort range (kube-apiserver --service-node-port-range).
const nodePortMin, nodePortMax = 30000, 32767

// manifests are the objects of the Kubernetes manifests, by kind.
type manifests struct {
	deployments   []*appsv1.Deployment
	services      []*corev1.Service
	pdbs          []*policyv1.PodDisruptionBudget
	configMaps    map[string]*corev1.ConfigMap // by namespace/name
	secrets       map[string]*corev1.Secret
	scaledObjects []*kedav1alpha1.ScaledObject
	triggerAuths  map[string]*kedav1alpha1.TriggerAuthentication
	files         map[metav1.Object]string
	keysChecked   map[string]bool
}

// newObject is the Go type a manifest of apiVersion and kind decodes into.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "keda.sh/v1alpha1 ScaledObject":
		return &kedav1alpha1.ScaledObject{}, true
	case "keda.sh/v1alpha1 TriggerAuthentication":
		return &kedav1alpha1.TriggerAuthentication{}, true
	}
	return nil, false
}

// decodeManifests decodes every document of files strictly: an unknown or
// misplaced field, a duplicate key or a kind the checks do not know fails.
func decodeManifests(r *Report, files []string) *manifests {
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		triggerAuths: map[string]*kedav1alpha1.TriggerAuthentication{}, files: map[metav1.Object]string{},
		keysChecked: map[string]bool{}}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			r.fail(file, "%v", err)
			continue
		}
		rd := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for n := 1; ; n++ {
			doc, err := rd.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.fail(file, "document %d: %v", n, err)
				break
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				r.fail(file, "document %d: %v", n, err)
				continue
			}
			if tm.APIVersion == "" && tm.Kind == "" {
				if js, err := yaml.YAMLToJSON(doc); err == nil && string(js) == "null" {
					continue // only comments
				}
			}
			obj, ok := newObject(tm.APIVersion, tm.Kind)
			if !ok {
				r.fail(file, "document %d: %s %s is not a kind these checks know", n, tm.APIVersion, tm.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				r.fail(file, "document %d (%s): %v", n, tm.Kind, err)
				continue
			}
			mo := obj.(metav1.Object)
			m.files[mo] = file
			key := mo.GetNamespace() + "/" + mo.GetName()
			switch o := obj.(type) {
			case *appsv1.Deployment:
				m.deployments = append(m.deployments, o)
			case *corev1.Service:
				m.services = append(m.services, o)
			case *policyv1.PodDisruptionBudget:
				m.pdbs = append(m.pdbs, o)
			case *corev1.ConfigMap:
				m.configMaps[key] = o
			case *corev1.Secret:
				m.secrets[key] = o
			case *kedav1alpha1.ScaledObject:
				m.scaledObjects = append(m.scaledObjects, o)
			case *kedav1alpha1.TriggerAuthentication:
				m.triggerAuths[key] = o
			}
		}
	}
	return m
}

// CheckManifests decodes the manifests strictly into the Kubernetes and KEDA
// types and checks how they fit together and fit the binaries.
func CheckManifests(r *Report, files []string, vars *Vars, queues Queues, images map[string]*Image) {
	before := len(r.Problems)
	m := decodeManifests(r, files)
	if len(r.Problems) == before {
		r.ok("%d manifests decoded strictly into k8s.io/api and KEDA types", len(files))
	}
	before = len(r.Problems)
	envs := map[*appsv1.Deployment]map[string]string{}
	for _, d := range m.deployments {
		envs[d] = checkDeployment(r, m, d, vars, images)
	}
	for _, s := range m.services {
		checkService(r, m, s)
	}
	for _, p := range m.pdbs {
		checkPDB(r, m, p)
	}
	for _, so := range m.scaledObjects {
		checkScaledObject(r, m, so, envs, queues)
	}
	if len(r.Problems) == before {
		r.ok("%d Deployments (probes, resources, users, variables, worker grace and ports), %d Services, %d PodDisruptionBudgets, %d ScaledObjects",
			len(m.deployments), len(m.services), len(m.pdbs), len(m.scaledObjects))
	}
}

// binaryOf is the dialq binary an image runs: .../dialq-<binary>:tag.
func binaryOf(image string) string {
	b, ok := strings.CutPrefix(path.Base(imageRepo(image)), "dialq-")
	if !ok || !slices.Contains(binaries, b) {
		return ""
	}
	return b
}

// checkDeployment checks a Deployment of a dialq image and returns the
// environment its container runs with (image ENV, envFrom, env).
func checkDeployment(r *Report, m *manifests, d *appsv1.Deployment, vars *Vars, images map[string]*Image) map[string]string {
	file := m.files[d]
	where := "Deployment " + d.Name
	pod := d.Spec.Template.Spec
	if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		r.fail(file, "%s: its selector does not match its pod template's labels", where)
	}
	if len(pod.Containers) != 1 {
		r.fail(file, "%s: want one container, found %d", where, len(pod.Containers))
		return nil
	}
	c := pod.Containers[0]
	where += ", container " + c.Name
	if err := checkPinned(c.Image); err != nil {
		r.fail(file, "%s: %v", where, err)
	}
	binary := binaryOf(c.Image)
	if binary == "" {
		r.fail(file, "%s: image %s is none of dialq-%s", where, c.Image, strings.Join(binaries, ", dialq-"))
		return nil
	}
	env := map[string]string{}
	if img := images[binary]; img != nil {
		for k, v := range img.Env {
			env[k] = v
		}
	}
	ns := d.Namespace
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm := m.configMaps[ns+"/"+from.ConfigMapRef.Name]
			if cm == nil {
				r.fail(file, "%s: envFrom ConfigMap %s is not in the manifests", where, from.ConfigMapRef.Name)
				continue
			}
			data = cm.Data
			m.checkKeys(r, cm, "ConfigMap", from.Prefix, data, vars)
		case from.SecretRef != nil:
			s := m.secrets[ns+"/"+from.SecretRef.Name]
			if s == nil {
				r.fail(file, "%s: envFrom Secret %s is not in the manifests", where, from.SecretRef.Name)
				continue
			}
			data = secretData(s)
			m.checkKeys(r, s, "Secret", from.Prefix, data, vars)
		}
		for k, v := range data {
			env[from.Prefix+k] = v
		}
	}
	var names []string
	contactSet := false
	for _, e := range c.Env {
		names = append(names, e.Name)
		env[e.Name] = e.Value
		if e.ValueFrom != nil {
			env[e.Name] = envRef(r, file, where, m, ns, e)
		}
		if e.Name == "DIALQ_SIP_CONTACT_HOST" {
			contactSet = e.Value != "" || e.ValueFrom != nil
		}
	}
	if !contactSet {
		contactSet = env["DIALQ_SIP_CONTACT_HOST"] != ""
	}
	checkEnvNames(r, file, where, binary, names, vars)

	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if p.probe == nil {
			if p.kind != "startupProbe" {
				r.fail(file, "%s: no %s", where, p.kind)
			}
			continue
		}
		if p.probe.HTTPGet == nil {
			r.fail(file, "%s: %s is not an httpGet of the %s's health endpoints", where, p.kind, binary)
			continue
		}
		port, err := containerPort(c, p.probe.HTTPGet.Port)
		if err == nil {
			err = checkProbe(binary, env, p.probe.HTTPGet.Path, port)
		}
		if err != nil {
			r.fail(file, "%s: %s: %v", where, p.kind, err)
		}
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		r.fail(file, "%s: set resources.requests cpu and memory and resources.limits memory", where)
	}
	checkNonRoot(r, file, where, pod.SecurityContext, c.SecurityContext)

	if binary == "worker" {
		grace := 30 * time.Second // Kubernetes' default
		if pod.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		}
		if err := checkGrace(env, grace); err != nil {
			r.fail(file, "%s: terminationGracePeriodSeconds: %v", where, err)
		}
		if err := checkBridgeEnv(env, contactSet); err != nil {
			r.fail(file, "%s: %v", where, err)
		}
		if env["DIALQ_BRIDGE"] != "false" {
			checkBridgePorts(r, file, where, d, c, env)
		}
	}
	return env
}

// checkKeys: every key of a ConfigMap or Secret that a container takes
// whole (envFrom) must be a variable some dialq binary reads. Each object is
// checked once, in its own file.
func (m *manifests) checkKeys(r *Report, obj metav1.Object, kind, prefix string, data map[string]string, vars *Vars) {
	seen := kind + " " + obj.GetNamespace() + "/" + obj.GetName() + " " + prefix
	if m.keysChecked[seen] {
		return
	}
	m.keysChecked[seen] = true
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !vars.ReadByAny(prefix + k) {
			r.fail(m.files[obj], "%s %s: key %s, which envFrom makes a variable, is none that a dialq binary reads", kind, obj.GetName(), prefix+k)
		}
	}
}

func secretData(s *corev1.Secret) map[string]string {
	data := map[string]string{}
	for k, v := range s.Data {
		data[k] = string(v)
	}
	for k, v := range s.StringData {
		data[k] = v
	}
	return data
}

// envRef resolves an env entry's valueFrom within the manifests.
func envRef(r *Report, file, where string, m *manifests, ns string, e corev1.EnvVar) string {
	switch {
	case e.ValueFrom.ConfigMapKeyRef != nil:
		ref := e.ValueFrom.ConfigMapKeyRef
		cm := m.configMaps[ns+"/"+ref.Name]
		if cm == nil {
			r.fail(file, "%s: %s: ConfigMap %s is not in the manifests", where, e.Name, ref.Name)
			return ""
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			r.fail(file, "%s: %s: ConfigMap %s has no key %s", where, e.Name, ref.Name, ref.Key)
		}
		return v
	case e.ValueFrom.SecretKeyRef != nil:
		ref := e.ValueFrom.SecretKeyRef
		s := m.secrets[ns+"/"+ref.Name]
		if s == nil {
			r.fail(file, "%s: %s: Secret %s is not in the manifests", where, e.Name, ref.Name)
			return ""
		}
		v, ok := secretData(s)[ref.Key]
		if !ok {
			r.fail(file, "%s: %s: Secret %s has no key %s", where, e.Name, ref.Name, ref.Key)
		}
		return v
	}
	return "" // fieldRef, resourceFieldRef: known only in the cluster
}

// containerPort resolves a probe's or Service's port, by name or number,
// to one of c's container ports.
func containerPort(c corev1.Container, p intstr.IntOrString) (int, error) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("port %s is none of container %s's ports", p.String(), c.Name)
}

// checkNonRoot: the pod must refuse to run as root and run as a UID that is
// not root's, whatever the image says.
func checkNonRoot(r *Report, file, where string, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) {
	var nonRoot *bool
	var uid *int64
	if pod != nil {
		nonRoot, uid = pod.RunAsNonRoot, pod.RunAsUser
	}
	if c != nil {
		if c.RunAsNonRoot != nil {
			nonRoot = c.RunAsNonRoot
		}
		if c.RunAsUser != nil {
			uid = c.RunAsUser
		}
		if c.Privileged != nil && *c.Privileged {
			r.fail(file, "%s: privileged", where)
		}
	}
	if nonRoot == nil || !*nonRoot {
		r.fail(file, "%s: set securityContext.runAsNonRoot: true", where)
	}
	if uid == nil || *uid == 0 {
		r.fail(file, "%s: set securityContext.runAsUser to the image's non-root UID", where)
	}
}

// checkBridgePorts: the worker's SIP listener has a TCP and a UDP container
// port, and its RTP port range is declared, within 1024-65535, outside the
// NodePort range, on the host's network (a Service cannot carry a range).
func checkBridgePorts(r *Report, file, where string, d *appsv1.Deployment, c corev1.Container, env map[string]string) {
	if l, ok := env["DIALQ_SIP_LISTEN"]; ok {
		port, err := addrPort(l)
		if err != nil {
			r.fail(file, "%s: DIALQ_SIP_LISTEN=%q: %v", where, l, err)
		} else if port != 0 {
			for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
				found := false
				for _, cp := range c.Ports {
					found = found || (int(cp.ContainerPort) == port && cp.Protocol == proto)
				}
				if !found {
					r.fail(file, "%s: no %s container port %d for DIALQ_SIP_LISTEN (the carrier's BYE and re-INVITE)", where, proto, port)
				}
			}
		}
	}
	ann, ok := d.Spec.Template.Annotations[rtpPortsAnnotation]
	if !ok {
		r.fail(file, "%s: the pod template has no %s annotation: the bridge's RTP range (the trunks' rtp_port_min-rtp_port_max)", where, rtpPortsAnnotation)
		return
	}
	if err := checkRTPRange(ann); err != nil {
		r.fail(file, "%s: %s: %v", where, rtpPortsAnnotation, err)
	}
	if !d.Spec.Template.Spec.HostNetwork {
		r.fail(file, "%s: the RTP range %s needs hostNetwork: true (a Service or containerPort cannot carry a port range)", where, ann)
	}
}

// checkRTPRange checks an RTP port range MIN-MAX.
func checkRTPRange(s string) error {
	lo, hi, ok := strings.Cut(s, "-")
	min, err1 := strconv.Atoi(strings.TrimSpace(lo))
	max, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%q: want MIN-MAX, such as 20000-20999", s)
	}
	if min < 1024 || max > 65535 || max-min < 1 {
		return fmt.Errorf("%q: want a range of at least 2 ports within 1024-65535 (as dialqctl save-trunk -rtp-ports does)", s)
	}
	if min <= nodePortMax && max >= nodePortMin {
		return fmt.Errorf("%q overlaps Kubernetes' NodePort range %d-%d: RTP for a call could land on a Service", s, nodePortMin, nodePortMax)
	}
	return nil
}

// selects says whether every label of selector is in labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// selected is the Deployment of ns whose pods selector picks, or nil.
func (m *manifests) selected(ns string, selector map[string]string) *appsv1.Deployment {
	for _, d := range m.deployments {
		if d.Namespace == ns && selects(selector, d.Spec.Template.Labels) {
			return d
		}
	}
	return nil
}

func checkService(r *Report, m *manifests, s *corev1.Service) {
	file := m.files[s]
	d := m.selected(s.Namespace, s.Spec.Selector)
	if d == nil {
		r.fail(file, "Service %s: its selector %v picks no Deployment's pods", s.Name, s.Spec.Selector)
		return
	}
	for _, p := range s.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		found := false
		for _, c := range d.Spec.Template.Spec.Containers {
			if _, err := containerPort(c, target); err == nil {
				found = true
			}
		}
		if !found {
			r.fail(file, "Service %s: port %d targets %s, which Deployment %s's containers do not have", s.Name, p.Port, target.String(), d.Name)
		}
	}
}

func checkPDB(r *Report, m *manifests, p *policyv1.PodDisruptionBudget) {
	file := m.files[p]
	var sel map[string]string
	if p.Spec.Selector != nil {
		sel = p.Spec.Selector.MatchLabels
	}
	d := m.selected(p.Namespace, sel)
	if d == nil {
		r.fail(file, "PodDisruptionBudget %s: its selector picks no Deployment's pods", p.Name)
		return
	}
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	if v := p.Spec.MinAvailable; v != nil && v.Type == intstr.Int && v.IntVal >= replicas {
		r.fail(file, "PodDisruptionBudget %s: minAvailable %d with %d replicas of %s blocks every node drain", p.Name, v.IntVal, replicas, d.Name)
	}
	if v := p.Spec.MaxUnavailable; v != nil && v.Type == intstr.Int && v.IntVal == 0 {
		r.fail(file, "PodDisruptionBudget %s: maxUnavailable 0 blocks every node drain", p.Name)
	}
}

// redisScalerKeys are the metadata KEDA v2.21's redis scaler reads
// (pkg/scalers/redis_scaler.go); a name given as <name>FromEnv is read from
// the target container's environment.
var redisScalerKeys = []string{"address", "addresses", "host", "hosts", "port", "ports", "username", "password",
	"sentinelUsername", "sentinelPassword", "sentinelMaster", "unsafeSsl", "listLength", "activationListLength",
	"listName", "databaseIndex", "enableTLS"}

func checkScaledObject(r *Report, m *manifests, so *kedav1alpha1.ScaledObject, envs map[*appsv1.Deployment]map[string]string, queues Queues) {
	file := m.files[so]
	where := "ScaledObject " + so.Name
	if err := kedav1alpha1.ValidateTriggers(so.Spec.Triggers); err != nil {
		r.fail(file, "%s: %v", where, err)
	}
	ref := so.Spec.ScaleTargetRef
	if ref == nil {
		r.fail(file, "%s: no scaleTargetRef", where)
		return
	}
	var target *appsv1.Deployment
	for _, d := range m.deployments {
		if d.Namespace == so.Namespace && d.Name == ref.Name && (ref.Kind == "" || ref.Kind == "Deployment") {
			target = d
		}
	}
	if target == nil {
		r.fail(file, "%s: scaleTargetRef %s is no Deployment of the manifests", where, ref.Name)
		return
	}
	if binaryOf(target.Spec.Template.Spec.Containers[0].Image) != "worker" {
		r.fail(file, "%s: scales %s, which does not run the worker", where, target.Name)
	}
	if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
		r.fail(file, "%s: minReplicaCount must be at least 1: the campaign scheduler runs in the workers, and with none no campaign call is dialed", where)
	}
	env := envs[target]
	names := queues.Names(env)
	dialList := "asynq:{" + names[0] + "}:pending"
	scalesOnDial := false
	for i, t := range so.Spec.Triggers {
		tw := fmt.Sprintf("%s: trigger %d (%s)", where, i, t.Type)
		if t.Type != "redis" {
			r.fail(file, "%s: only redis triggers (asynq's lists) are checked here", tw)
			continue
		}
		for k, v := range t.Metadata {
			name, fromEnv := strings.CutSuffix(k, "FromEnv")
			if !slices.Contains(redisScalerKeys, name) {
				r.fail(file, "%s: KEDA's redis scaler reads no %s", tw, k)
			}
			if _, ok := env[v]; fromEnv && !ok {
				r.fail(file, "%s: %s names %s, which %s's container does not set", tw, k, v, target.Name)
			}
		}
		list := t.Metadata["listName"]
		ok := false
		for _, q := range names {
			ok = ok || list == "asynq:{"+q+"}:pending"
		}
		if !ok {
			r.fail(file, "%s: listName %q is not the pending list of a queue the workers serve (asynq:{%s}:pending)", tw, list, strings.Join(names, "|"))
		}
		scalesOnDial = scalesOnDial || list == dialList
		if n, err := strconv.Atoi(t.Metadata["listLength"]); err != nil || n < 1 {
			r.fail(file, "%s: listLength %q: want a whole number of at least 1", tw, t.Metadata["listLength"])
		}
		if t.AuthenticationRef != nil && (t.AuthenticationRef.Kind == "" || t.AuthenticationRef.Kind == "TriggerAuthentication") &&
			m.triggerAuths[so.Namespace+"/"+t.AuthenticationRef.Name] == nil {
			r.fail(file, "%s: TriggerAuthentication %s is not in the manifests", tw, t.AuthenticationRef.Name)
		}
	}
	if !scalesOnDial {
		r.fail(file, "%s: no trigger on the dial queue's pending list %s", where, dialList)
	}
}
