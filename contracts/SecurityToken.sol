// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/**
 * @title SecurityToken
 * @notice An ERC-20 security token with ERC-3643-style agent powers and a closed holder
 *         register, for platforms that act on investors' balances while the investors keep
 *         cold keys.
 * @dev Roles:
 *      - DEFAULT_ADMIN_ROLE: the platform governance address. It alone grants and revokes
 *        AGENT_ROLE, so a lost or compromised signing key can be replaced. Never the hot key.
 *      - AGENT_ROLE: the platform-held signing key (operator or issuer). It mints, burns,
 *        forces transfers, freezes, verifies, pauses and recovers.
 *      Rules:
 *      - A holder's own transfer/transferFrom needs sender and receiver verified and not
 *        frozen, and the token not paused. So a copied paper key cannot move securities to
 *        an address outside the register.
 *      - Agent operations ignore the sender's freeze (that is how frozen balances are
 *        redeemed or recovered) but refuse a frozen receiver, and make the receiver verified.
 *      - Pause stops EVERY balance change, agent ones included. This deliberately differs
 *        from T-REX, where agents may still move tokens while paused: here a pause is a
 *        full stop of the register, lifted only by unpause.
 *      - No transfer to self, to the zero address, or of a zero amount.
 *      Every refusal is a custom error, decoded by the platform into an error code.
 */
contract SecurityToken is ERC20, AccessControl, Pausable {
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    uint8 private immutable _tokenDecimals;
    mapping(address account => bool) private _frozen;
    mapping(address account => bool) private _verified;

    event AddressFrozen(address indexed userAddress, bool indexed isFrozen, address indexed owner);
    event AddressVerified(address indexed userAddress, bool indexed isVerified, address indexed agent);
    event ForcedTransfer(address indexed from, address indexed to, uint256 amount);
    event RecoverySuccess(address indexed lostWallet, address indexed newWallet, uint256 amount);

    error TokenPaused();
    error FrozenAddress(address account);
    error NotVerified(address account);
    error TransferToSelf();
    error ZeroAddress();
    error ZeroAmount();
    error NothingToRecover(address lostWallet);

    constructor(string memory name_, string memory symbol_, uint8 decimals_, address admin, address agent) ERC20(name_, symbol_) {
        if (admin == address(0) || agent == address(0)) revert ZeroAddress();
        _tokenDecimals = decimals_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(AGENT_ROLE, agent);
    }

    function decimals() public view override returns (uint8) {
        return _tokenDecimals;
    }

    function isFrozen(address account) external view returns (bool) {
        return _frozen[account];
    }

    function isVerified(address account) external view returns (bool) {
        return _verified[account];
    }

    // ---- agent powers ----------------------------------------------------------------

    /// @notice Adds or removes an address from the register of eligible holders.
    function setAddressVerified(address account, bool verified) external onlyRole(AGENT_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        _setVerified(account, verified);
    }

    /// @notice Freezes or unfreezes an address: a frozen holder cannot move or receive tokens by itself.
    function setAddressFrozen(address account, bool frozen) external onlyRole(AGENT_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        _frozen[account] = frozen;
        emit AddressFrozen(account, frozen, _msgSender());
    }

    function pause() external onlyRole(AGENT_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(AGENT_ROLE) {
        _unpause();
    }

    /// @notice Issues `amount` to `to` and makes `to` an eligible holder.
    function mint(address to, uint256 amount) external onlyRole(AGENT_ROLE) {
        if (to == address(0)) revert ZeroAddress();
        _agentMove(address(0), to, amount);
    }

    /// @notice Redeems `amount` from `from`, frozen or not.
    function burn(address from, uint256 amount) external onlyRole(AGENT_ROLE) {
        if (from == address(0)) revert ZeroAddress();
        _agentMove(from, address(0), amount);
    }

    /// @notice Moves `amount` from `from` (frozen or not) to `to` (not frozen; made eligible).
    function forcedTransfer(address from, address to, uint256 amount) external onlyRole(AGENT_ROLE) returns (bool) {
        if (from == address(0) || to == address(0)) revert ZeroAddress();
        _agentMove(from, to, amount);
        emit ForcedTransfer(from, to, amount);
        return true;
    }

    /// @notice Moves the whole balance of a lost wallet to its replacement and freezes the lost wallet.
    function recoveryAddress(address lostWallet, address replacement) external onlyRole(AGENT_ROLE) returns (bool) {
        if (lostWallet == address(0) || replacement == address(0)) revert ZeroAddress();
        uint256 amount = balanceOf(lostWallet);
        if (amount == 0) revert NothingToRecover(lostWallet);
        _agentMove(lostWallet, replacement, amount);
        _frozen[lostWallet] = true;
        emit AddressFrozen(lostWallet, true, _msgSender());
        if (_verified[lostWallet]) _setVerified(lostWallet, false);
        emit RecoverySuccess(lostWallet, replacement, amount);
        return true;
    }

    // ---- balance changes ---------------------------------------------------------------

    /// @dev Agent path: ignores the sender's freeze and register status, refuses a frozen
    ///      receiver, and registers the receiver. Calls ERC20._update directly so the holder
    ///      rules in `_update` below do not apply.
    function _agentMove(address from, address to, uint256 amount) private {
        if (paused()) revert TokenPaused();
        if (amount == 0) revert ZeroAmount();
        if (from == to) revert TransferToSelf();
        if (to != address(0)) {
            if (_frozen[to]) revert FrozenAddress(to);
            if (!_verified[to]) _setVerified(to, true);
        }
        ERC20._update(from, to, amount);
    }

    /// @dev Holder path (transfer, transferFrom): both sides registered and not frozen.
    function _update(address from, address to, uint256 amount) internal override {
        if (paused()) revert TokenPaused();
        if (amount == 0) revert ZeroAmount();
        if (from == to) revert TransferToSelf();
        if (_frozen[from]) revert FrozenAddress(from);
        if (_frozen[to]) revert FrozenAddress(to);
        if (!_verified[from]) revert NotVerified(from);
        if (!_verified[to]) revert NotVerified(to);
        super._update(from, to, amount);
    }

    function _setVerified(address account, bool verified) private {
        _verified[account] = verified;
        emit AddressVerified(account, verified, _msgSender());
    }
}
