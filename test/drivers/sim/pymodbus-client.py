import sys, types, json
# Debian's python3-pymodbus 3.0 imports pyserial and serial_asyncio at package import even for TCP;
# neither is installed here, so stand-ins are registered (the TCP client never touches them).
for name in ('serial', 'serial_asyncio'):
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules['serial_asyncio'].create_serial_connection = None
from pymodbus.client import ModbusTcpClient
from pymodbus.transaction import ModbusRtuFramer
port = int(sys.argv[1]); framing = sys.argv[2]; unit = int(sys.argv[3])
kwargs = {'framer': ModbusRtuFramer} if framing == 'rtu' else {}
client = ModbusTcpClient('127.0.0.1', port=port, timeout=2, retries=0, **kwargs)
assert client.connect()
out = {}
r = client.read_holding_registers(0, 10, slave=unit); out['holding'] = r.registers
r = client.read_input_registers(0, 2, slave=unit); out['input'] = r.registers
r = client.read_coils(0, 5, slave=unit); out['coils'] = [bool(b) for b in r.bits[:5]]
r = client.write_registers(5, [1111, 2222], slave=unit); out['write_registers'] = not r.isError()
r = client.write_coil(1, True, slave=unit); out['write_coil'] = not r.isError()
r = client.read_holding_registers(500, 1, slave=unit); out['unmapped_exception'] = getattr(r, 'exception_code', None)
client.close()
print(json.dumps(out))
