declare module 'hep-js' {
  interface RcInfo {
    protocolFamily: number;
    protocol: number;
    srcIp: string;
    dstIp: string;
    srcPort: number;
    dstPort: number;
    timeSeconds: number;
    timeUseconds: number;
    payloadType: number;
    captureId: number | string;
    hepNodeName?: string;
    capturePass?: string;
    correlation_id?: string;
  }
  interface Decoded {
    rcinfo: Record<string, unknown>;
    payload: string;
  }
  const hep: {
    encapsulate(payload: string, rcinfo: RcInfo): Buffer;
    decapsulate(packet: Buffer): Decoded | false | undefined;
  };
  export default hep;
}
